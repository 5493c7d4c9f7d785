"""Operators' commands interleaved into a demo order stream, for the runtime's kill and restart
tests: every status in turn (back to TRADING between), a mass cancel of an account and of the
whole symbol, a freeze and its unfreeze, and a change of the listing, one every ``every``
commands."""

from collections.abc import Iterable, Iterator
from itertools import cycle

from engine_service.demo import ACCOUNTS
from exchange.domain import (
    EngineCommand,
    FreezeAccount,
    Instrument,
    InstrumentStatus,
    ListInstrument,
    MassCancel,
    SetTradingStatus,
)


def with_operators(
    instrument: Instrument, commands: Iterable[EngineCommand], *, every: int
) -> Iterator[EngineCommand]:
    """``commands`` with an operator's command after every ``every``-th one."""
    plan: Iterator[tuple[str, InstrumentStatus | str | None]] = cycle(
        [
            ("status", InstrumentStatus.POST_ONLY),
            ("status", InstrumentStatus.TRADING),
            ("mass_cancel", ACCOUNTS[0]),
            ("status", InstrumentStatus.CANCEL_ONLY),
            ("status", InstrumentStatus.TRADING),
            ("freeze", ACCOUNTS[1]),
            ("list", None),
            ("unfreeze", ACCOUNTS[1]),
            ("status", InstrumentStatus.HALTED),
            ("mass_cancel", None),
            ("status", InstrumentStatus.TRADING),
        ]
    )
    version = 0
    for n, command in enumerate(commands, start=1):
        yield command
        if n % every:
            continue
        kind, arg = next(plan)
        symbol, ts, command_id = instrument.symbol, command.ts, f"adm_{n}"
        if isinstance(arg, InstrumentStatus):
            yield SetTradingStatus(
                symbol=symbol, ts=ts, command_id=command_id, status=arg, actor="ops"
            )
        elif kind == "mass_cancel":
            yield MassCancel(
                symbol=symbol, ts=ts, command_id=command_id, account_id=arg, actor="ops"
            )
        elif arg is not None:
            yield FreezeAccount(
                symbol=symbol,
                ts=ts,
                command_id=command_id,
                account_id=arg,
                frozen=kind == "freeze",
                actor="ops",
            )
        else:
            version += 1
            changed = instrument.model_copy(update={"taker_fee_bps": version % 10})
            yield ListInstrument(
                symbol=symbol,
                ts=ts,
                command_id=f"list:{symbol}:{version}",
                instrument=changed.model_dump_json(),
                version=version,
                actor="ops",
            )
