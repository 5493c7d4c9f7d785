"""The naive reference model's operators' commands: status, mass cancel, freeze and listing,
straight from their docstrings (``exchange.domain.commands``) and ``InstrumentStatus``'s table.
``ReferenceBook`` (``reference``) supplies the book, ``emit`` and ``remove``."""

from typing import Any

from exchange.domain import (
    AccountFrozen,
    CancelReason,
    Event,
    FreezeAccount,
    Instrument,
    InstrumentListed,
    ListInstrument,
    MassCancel,
    OperatorCommand,
    OrderCancelled,
    OrderRejected,
    RejectReason,
    SetTradingStatus,
    TradingStatusChanged,
)
from tests.unit.engine.reference_rules import ReferenceRules, RefOrder

FIXED_AT_LISTING = ("symbol", "base", "quote", "tick_size", "lot_size", "asset_class")


class ReferenceOperators(ReferenceRules):
    seen_commands: set[str]
    version: int

    def emit(self, cls: type[Event], **fields: Any) -> None:
        raise NotImplementedError

    def remove(self, order: RefOrder) -> None:
        raise NotImplementedError

    def operate(self, cmd: OperatorCommand) -> None:
        if cmd.command_id in self.seen_commands:
            return
        if isinstance(cmd, ListInstrument) and cmd.version <= self.version:
            return
        self.seen_commands.add(cmd.command_id)
        if isinstance(cmd, SetTradingStatus):
            previous, self.status = self.status, cmd.status
            self.emit(
                TradingStatusChanged,
                command_id=cmd.command_id,
                status=cmd.status,
                previous=previous,
                actor=cmd.actor,
                reason=cmd.reason,
            )
        elif isinstance(cmd, MassCancel):
            if not self.cancel_all(cmd.command_id, cmd.account_id):
                self.refuse(cmd, RejectReason.UNKNOWN_ORDER)
        elif isinstance(cmd, FreezeAccount):
            if cmd.frozen:
                self.frozen.add(cmd.account_id)
            else:
                self.frozen.discard(cmd.account_id)
            self.emit(
                AccountFrozen,
                command_id=cmd.command_id,
                account_id=cmd.account_id,
                frozen=cmd.frozen,
                actor=cmd.actor,
                reason=cmd.reason,
            )
            if cmd.frozen:
                self.cancel_all(cmd.command_id, cmd.account_id)
        else:
            self.relist(cmd)

    def cancel_all(self, command_id: str, account_id: str | None) -> bool:
        """Cancel the target's open orders, oldest arrival first; False when it had none."""
        targets = [
            o for o in self.resting + self.stops if account_id is None or o.account_id == account_id
        ]
        for order in sorted(targets, key=lambda o: o.arrival):
            self.emit(
                OrderCancelled,
                order_id=order.order_id,
                account_id=order.account_id,
                cancelled_qty=order.open_qty,
                reason=CancelReason.OPERATOR,
                command_id=command_id,
            )
            self.remove(order)
        return bool(targets)

    def relist(self, cmd: ListInstrument) -> None:
        try:
            instrument = Instrument.model_validate_json(cmd.instrument)
        except ValueError:
            self.refuse(cmd, RejectReason.INVALID_COMMAND)
            return
        if any(
            getattr(instrument, name) != getattr(self.instrument, name) for name in FIXED_AT_LISTING
        ):
            self.refuse(cmd, RejectReason.INVALID_COMMAND)
            return
        self.instrument, self.version = instrument, cmd.version
        self.emit(
            InstrumentListed,
            command_id=cmd.command_id,
            instrument=cmd.instrument,
            version=cmd.version,
            actor=cmd.actor,
            reason=cmd.reason,
        )

    def refuse(self, cmd: OperatorCommand, reason: RejectReason) -> None:
        account_id = cmd.account_id if isinstance(cmd, MassCancel | FreezeAccount) else None
        self.emit(
            OrderRejected,
            order_id="",
            account_id=account_id or "",
            reason=reason,
            command_id=cmd.command_id,
        )
