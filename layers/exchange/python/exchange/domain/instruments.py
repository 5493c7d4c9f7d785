"""Instruments: what is traded, and the rules that turn decimal prices and quantities into
integer ticks and lots.

>>> btc = Instrument(symbol="BTC-USD", base="BTC", quote="USD", tick_size=Decimal("0.01"),
...                  lot_size=Decimal("0.0001"), min_qty=Decimal("0.0001"), max_qty=Decimal("100"),
...                  price_band_pct=Decimal("10"))
>>> btc.price_to_ticks("65000.25")
6500025
>>> btc.format_price(6500025)
'65000.25'
"""

import json
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from importlib import resources
from math import ceil, floor
from typing import Annotated, Final, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from exchange.domain.enums import AssetClass, InstrumentStatus
from exchange.domain.errors import (
    InvalidInstrument,
    InvalidNumber,
    InvalidPrice,
    InvalidQuantity,
    OffLot,
    OffTick,
    UnknownInstrument,
)
from exchange.domain.numbers import parse_decimal, plain, steps_in, steps_to_decimal


def _decimal_field(value: object) -> Decimal:
    # pydantic reports ValueError as a field error; InvalidNumber would escape it unwrapped.
    try:
        return parse_decimal(value)
    except InvalidNumber as exc:
        raise ValueError(str(exc)) from exc


ExactDecimal = Annotated[Decimal, BeforeValidator(_decimal_field)]
PositiveDecimal = Annotated[ExactDecimal, Field(gt=0)]
AssetCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")]


# Fixed once an instrument is listed: open orders are held in its ticks and lots, and balances in
# its assets. The instruments store refuses a change of any of these (``exchange.instruments``),
# and the engine refuses it again, so the journal never holds a listing that re-prices orders.
# The largest max_qty (in lots) and price (in ticks) an instrument may set. The engine's compiled
# core holds quantities and prices in 64-bit integers: a price level's total stays exact while it
# holds fewer than 1,024 orders of the largest size.
MAX_LOTS: Final = (1 << 53) - 1
MAX_TICKS: Final = (1 << 62) - 1
IMMUTABLE_FIELDS: Final = ("symbol", "base", "quote", "tick_size", "lot_size", "asset_class")


class Instrument(BaseModel):
    """A listed instrument. Immutable; prices are integer ticks and quantities integer lots."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$")]
    base: AssetCode
    quote: AssetCode
    tick_size: PositiveDecimal
    lot_size: PositiveDecimal
    min_qty: PositiveDecimal
    max_qty: PositiveDecimal
    # Limit orders priced more than this far from the band's reference price are rejected, and
    # market orders and triggered stops trade no further from it. The reference is the last
    # trade of at least band_min_qty, before any such trade reference_price (else no band).
    price_band_pct: Annotated[ExactDecimal, Field(gt=0, le=100)]
    status: InstrumentStatus = InstrumentStatus.TRADING
    # Fees in basis points of notional; a negative maker fee is a rebate.
    maker_fee_bps: Annotated[int, Field(ge=-100, le=1000)] = 0
    taker_fee_bps: Annotated[int, Field(ge=0, le=1000)] = 0
    # The band's reference before the first trade that may move it (the opening reference), and
    # the market/stop protection reference until then. None: no band and no market orders until a
    # reference exists.
    reference_price: PositiveDecimal | None = None
    # The smallest trade that moves the band's reference, so a single lot cannot walk it. None:
    # every trade moves it.
    band_min_qty: PositiveDecimal | None = None
    # Upper bounds the API enforces (400/422), so no price or notional overflows a column or a
    # wire field. None: no bound beyond the types'.
    max_price: PositiveDecimal | None = None
    max_notional: PositiveDecimal | None = None
    asset_class: AssetClass = AssetClass.CRYPTO

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.symbol != f"{self.base}-{self.quote}":
            raise ValueError(
                f"symbol must be BASE-QUOTE ({self.base}-{self.quote}), was {self.symbol}"
            )
        for name in ("min_qty", "max_qty"):
            if steps_in(getattr(self, name), self.lot_size) is None:
                raise ValueError(f"{name} must be a multiple of lot size {self.lot_size}")
        if self.min_qty > self.max_qty:
            raise ValueError(f"min_qty {self.min_qty} is above max_qty {self.max_qty}")
        # The engine works in ticks and lots: these must be whole numbers of them.
        for name, step, unit in (
            ("reference_price", self.tick_size, "tick size"),
            ("max_price", self.tick_size, "tick size"),
            ("band_min_qty", self.lot_size, "lot size"),
        ):
            value = getattr(self, name)
            if value is not None and steps_in(value, step) is None:
                raise ValueError(f"{name} must be a multiple of {unit} {step}, was {value}")
        # The engine holds prices and quantities in 64-bit integers (its compiled core does):
        # these limits keep every price, order and price level's total inside them.
        if self.max_lots > MAX_LOTS:
            raise ValueError(f"max_qty is {self.max_lots} lots, above the engine's {MAX_LOTS}")
        for name in ("reference_price", "max_price"):
            ticks = (
                None
                if getattr(self, name) is None
                else steps_in(getattr(self, name), self.tick_size)
            )
            if ticks is not None and ticks > MAX_TICKS:
                raise ValueError(f"{name} is {ticks} ticks, above the engine's {MAX_TICKS}")
        if self.reference_price and self.max_price and self.reference_price > self.max_price:
            raise ValueError(
                f"reference_price {self.reference_price} is above max_price {self.max_price}"
            )
        return self

    # -- prices ---------------------------------------------------------------------------------
    def price_to_ticks(self, price: object) -> int:
        """Exact integer ticks of a positive price; raises OffTick or InvalidPrice."""
        value = parse_decimal(price, what="price")
        if value <= 0:
            raise InvalidPrice(f"price must be positive, was {plain(value)}")
        ticks = steps_in(value, self.tick_size)
        if ticks is None:
            raise OffTick(f"price not on tick {plain(self.tick_size)}, was {plain(value)}")
        return ticks

    def ticks_to_price(self, ticks: int) -> Decimal:
        return steps_to_decimal(ticks, self.tick_size)

    def format_price(self, ticks: int) -> str:
        return plain(self.ticks_to_price(ticks))

    # -- quantities -----------------------------------------------------------------------------
    def qty_to_lots(self, qty: object) -> int:
        """Exact integer lots of a positive quantity; raises OffLot or InvalidQuantity.

        Min/max are not checked here: the engine rejects those with a reason code.
        """
        value = parse_decimal(qty, what="quantity")
        if value <= 0:
            raise InvalidQuantity(f"quantity must be positive, was {plain(value)}")
        lots = steps_in(value, self.lot_size)
        if lots is None:
            raise OffLot(f"quantity not on lot {plain(self.lot_size)}, was {plain(value)}")
        return lots

    def lots_to_qty(self, lots: int) -> Decimal:
        return steps_to_decimal(lots, self.lot_size)

    def format_qty(self, lots: int) -> str:
        return plain(self.lots_to_qty(lots))

    @cached_property
    def min_lots(self) -> int:
        return self.qty_to_lots(self.min_qty)

    @cached_property
    def max_lots(self) -> int:
        return self.qty_to_lots(self.max_qty)

    @cached_property
    def band_min_lots(self) -> int | None:
        """``band_min_qty`` in lots: the smallest trade that moves the band's reference."""
        return None if self.band_min_qty is None else self.qty_to_lots(self.band_min_qty)

    @cached_property
    def reference_ticks(self) -> int | None:
        """``reference_price`` in ticks: the band's opening reference."""
        return None if self.reference_price is None else self.price_to_ticks(self.reference_price)

    @cached_property
    def max_price_ticks(self) -> int | None:
        """``max_price`` in ticks: no price, stop price or protection price may exceed it."""
        return None if self.max_price is None else self.price_to_ticks(self.max_price)

    # -- rules ----------------------------------------------------------------------------------
    def band(self, reference_ticks: int) -> tuple[int, int]:
        """Lowest and highest limit price, in ticks, allowed around a reference price.

        Rounded inwards, so a price on the boundary of the percentage is always allowed and one
        beyond it never is.
        """
        pct = Fraction(self.price_band_pct) / 100
        return ceil(reference_ticks * (1 - pct)), floor(reference_ticks * (1 + pct))

    @property
    def is_trading(self) -> bool:
        return self.status is InstrumentStatus.TRADING


class InstrumentCatalog:
    """The instruments a process knows, by symbol."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        for instrument in instruments:
            if instrument.symbol in self._by_symbol:
                raise InvalidInstrument(f"duplicate instrument {instrument.symbol}")
            self._by_symbol[instrument.symbol] = instrument

    @classmethod
    def from_json(cls, payload: str | bytes) -> "InstrumentCatalog":
        """Build from a JSON array of instrument objects, with decimals as strings."""
        try:
            raw = json.loads(payload)
            if not isinstance(raw, list):
                raise InvalidInstrument("instrument catalog must be a JSON array")
            return cls([Instrument.model_validate(item) for item in raw])
        except (ValidationError, json.JSONDecodeError) as exc:
            raise InvalidInstrument(f"invalid instrument catalog: {exc}") from exc

    @classmethod
    def demo(cls) -> "InstrumentCatalog":
        """The instruments that local mode lists and seeds."""
        text = resources.files("exchange.data").joinpath("instruments.json").read_text()
        return cls.from_json(text)

    def get(self, symbol: str) -> Instrument:
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise UnknownInstrument(f"unknown symbol {symbol!r}") from None

    def original(self, symbol: str) -> Instrument:
        """The instrument as first listed (a live catalog: the static file's, before any change
        an operator made); its fees are in force before the journal records a listing."""
        return self.get(symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    @property
    def symbols(self) -> list[str]:
        return list(self._by_symbol)
