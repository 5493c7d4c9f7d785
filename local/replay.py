"""The archive replayed into the engine core: the commands behind archived events (what the
backtest submits again) and the final books rebuilt from the events themselves (``Engine.replay``,
no matching), to compare with the engine's own."""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from engine_service.core import Engine, L3View
from exchange.archive.reader import read_events
from exchange.domain import (
    AccountFrozen,
    AmendOrder,
    CancelOrder,
    CancelReason,
    EngineCommand,
    Event,
    FreezeAccount,
    Instrument,
    InstrumentCatalog,
    InstrumentListed,
    ListInstrument,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    SetTradingStatus,
    TradingStatusChanged,
)

FULL_DEPTH: Final = 2**31


def history_commands(events: Iterable[Event]) -> Iterator[EngineCommand]:
    """The commands behind archived events: what users and operators asked, not what followed.

    Cancels with no command (self-trade prevention, an amend to filled) are consequences; an
    operator's cancels (a mass cancel or a freeze) are re-sent one by one, as their order's."""
    for event in events:
        symbol, ts = event.symbol, event.ts
        match event:
            case OrderAccepted():
                yield NewOrder(
                    symbol=symbol, ts=ts, order_id=event.order_id, account_id=event.account_id,
                    client_order_id=event.client_order_id, side=event.side,
                    order_type=event.order_type, tif=event.tif, qty=event.qty, price=event.price,
                    stop_price=event.stop_price, post_only=event.post_only, stp=event.stp,
                    protection_price=event.protection_price,
                )  # fmt: skip
            case OrderCancelled(command_id=str(command_id)) if event.reason in (
                CancelReason.USER_REQUESTED,
                CancelReason.OPERATOR,
            ):
                if event.reason is CancelReason.OPERATOR:
                    command_id = f"{command_id}/{event.order_id}"
                yield CancelOrder(
                    symbol=symbol, ts=ts, command_id=command_id, order_id=event.order_id,
                    account_id=event.account_id,
                )  # fmt: skip
            case OrderAmended():
                yield AmendOrder(
                    symbol=symbol, ts=ts, command_id=event.command_id, order_id=event.order_id,
                    account_id=event.account_id, price=event.price, qty=event.qty,
                )  # fmt: skip
            case TradingStatusChanged():
                yield SetTradingStatus(
                    symbol=symbol, ts=ts, command_id=event.command_id, status=event.status,
                    actor=event.actor, reason=event.reason,
                )  # fmt: skip
            case AccountFrozen():
                yield FreezeAccount(
                    symbol=symbol, ts=ts, command_id=event.command_id, account_id=event.account_id,
                    frozen=event.frozen, actor=event.actor, reason=event.reason,
                )  # fmt: skip
            case InstrumentListed():
                yield ListInstrument(
                    symbol=symbol, ts=ts, command_id=event.command_id, instrument=event.instrument,
                    version=event.version, actor=event.actor, reason=event.reason,
                )  # fmt: skip


def replay_books(
    source: str | Path,
    *,
    instruments: Iterable[Instrument] | None = None,
    symbols: Iterable[str] | None = None,
) -> dict[str, L3View]:
    """Each archived symbol's final book, every level and order (``Engine.replay``: no matching).
    ``instruments``: the static ones the engine ran with (default: the demo catalog)."""
    catalog = list(InstrumentCatalog.demo() if instruments is None else instruments)
    engine = Engine(catalog)
    wanted = None if symbols is None else set(symbols)
    seen: set[str] = set()
    for event in read_events(source, symbols=wanted):
        seen.add(event.symbol)
        engine.replay([event])
    return {symbol: engine.l3(symbol, FULL_DEPTH) for symbol in sorted(seen)}


__all__ = ["history_commands", "replay_books"]
