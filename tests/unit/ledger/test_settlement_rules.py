"""Pure settlement: a trade's movements conserve every asset and pay the right pockets."""

from decimal import Decimal

import pytest

from exchange.domain import Instrument, OrderType, Side, Trade
from exchange.ledger import LedgerInconsistency
from exchange.ledger.holds import Hold, new_hold
from exchange.ledger.movements import balance_deltas
from exchange.ledger.settlement import settle_trade
from tests.unit.ledger.helpers import BTC, SCALES, SOL

ZERO = Decimal(0)


def hold(
    order_id: str, account: str, side: Side, qty: int, price: int, *, instrument: Instrument = BTC
) -> Hold:
    return new_hold(
        order_id=order_id,
        account_id=account,
        instrument=instrument,
        side=side,
        order_type=OrderType.LIMIT,
        qty_lots=qty,
        price_ticks=price,
        protection_ticks=None,
        quote_scale=SCALES[instrument.quote],
        base_scale=SCALES[instrument.base],
    )


def a_trade(price: int, qty: int, aggressor: Side = Side.BUY, symbol: str = "BTC-USD") -> Trade:
    return Trade(
        symbol=symbol,
        ts=1,
        seq=7,
        maker_order_id="m",
        taker_order_id="t",
        maker_account_id="maker",
        taker_account_id="taker",
        price=price,
        qty=qty,
        aggressor_side=aggressor,
    )


def per_asset(deltas: dict[tuple[str, str], tuple[Decimal, Decimal]]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for (_account, asset), (available, held) in deltas.items():
        sums[asset] = sums.get(asset, Decimal(0)) + available + held
    return sums


def test_taker_buy_at_makers_price_conserves_and_pays_fees() -> None:
    # Given a resting sell at 100.00 and a taker buy up to 101.00, 1 BTC each
    maker = hold("m", "maker", Side.SELL, 10_000, 10_000)
    taker = hold("t", "taker", Side.BUY, 10_000, 10_100)
    # When they trade 1 BTC at 100.00
    result = settle_trade(
        a_trade(10_000, 10_000), BTC, maker=maker, taker=taker, scales=SCALES, fee_account_id="fees"
    )
    deltas = balance_deltas(result.movements)
    # Then every asset sums to zero, and each pocket got what it should
    assert per_asset(deltas) == {"BTC": 0, "USD": 0}
    assert deltas[("taker", "BTC")] == (Decimal("1"), ZERO)
    assert deltas[("taker", "USD")] == (
        Decimal("1.0005"),
        Decimal("-101.0505"),
    )  # improvement + fee
    assert deltas[("maker", "USD")] == (Decimal("99.98"), ZERO)
    assert deltas[("fees", "USD")] == (Decimal("0.07"), ZERO)
    assert result.taker.after.held == 0
    assert result.maker.after.held == 0


def test_maker_rebate_flows_from_the_fee_account() -> None:
    maker = hold("m", "maker", Side.BUY, 100, 100_000, instrument=SOL)
    taker = hold("t", "taker", Side.SELL, 100, 100_000, instrument=SOL)
    result = settle_trade(
        a_trade(100_000, 100, Side.SELL, "SOL-USD"),
        SOL,
        maker=maker,
        taker=taker,
        scales=SCALES,
        fee_account_id="fees",
    )
    assert (result.maker.fee, result.taker.fee) == (Decimal("-0.01"), Decimal("0.07"))
    assert balance_deltas(result.movements)[("fees", "USD")] == (Decimal("0.06"), ZERO)


def test_trade_against_the_wrong_hold_is_refused() -> None:
    maker = hold("m", "someone-else", Side.SELL, 10, 10_000)
    taker = hold("t", "taker", Side.BUY, 10, 10_000)
    with pytest.raises(LedgerInconsistency, match="does not match"):
        settle_trade(
            a_trade(10_000, 10), BTC, maker=maker, taker=taker, scales=SCALES, fee_account_id="fees"
        )


def test_aggressor_that_contradicts_the_holds_is_refused() -> None:
    maker = hold("m", "maker", Side.SELL, 10, 10_000)
    taker = hold("t", "taker", Side.BUY, 10, 10_000)
    with pytest.raises(LedgerInconsistency, match="aggressor SELL"):
        settle_trade(
            a_trade(10_000, 10, Side.SELL),
            BTC,
            maker=maker,
            taker=taker,
            scales=SCALES,
            fee_account_id="fees",
        )
