"""The dead-letter consumer: what becomes of a command the engine never applied.

A command lands in its shard's dead-letter queue (``engine.<shard>.dlq``, ``exchange.messaging``)
when the engine refused it as malformed or misrouted, or when the broker gave up on it after
``DELIVERY_LIMIT`` deliveries (the engine crashed each time). Its order would otherwise stay
PENDING_NEW with its funds held, and nothing would alarm.

For a ``NewOrder``:

1. the order is read first: one the engine accepted (NEW or later, because another copy of the
   command got through) is left alone, logged and counted (``DeadLetteredLiveOrders``);
2. the order's reconcile cancel is published (``exchange.orders.reconcile``), so the engine refuses
   any other copy of the ``NewOrder`` still queued (a publisher's retry); its answer comes back
   through the journal like every reconcile's;
3. the order, if still PENDING_NEW, is marked REJECTED with reason ``DEAD_LETTERED``;
4. its hold is released (``LedgerPort.release``): the ledger is the authority, and the engine never
   applied the command, so nothing of the hold is spoken for.

Each step is idempotent (one command id, a conditional update, a release that finds nothing held
moves nothing), so a redelivered dead letter changes nothing twice. A cancel or an amend is logged
and counted only: its order is as the engine left it, and the client sees the change did not
happen. An operator's command (a status change, a mass cancel, a freeze, a listing) has no order
and no hold to settle: it is logged at error with its command id, operator and reason, and counted
(``DeadLetteredOperatorCommands``); the operator sees the change did not happen (the market's
status, the orders still open) and sends it again. A message that does not decode is logged,
counted and acknowledged; no retry can give it a meaning. Every dead letter counts in
``DeadLetteredCommands``, which pages.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from exchange.domain.commands import Command, NewOrder, OperatorCommand
from exchange.domain.enums import OrderStatus
from exchange.domain.errors import WireFormatError
from exchange.ledger.errors import UnknownReservation
from exchange.ledger.port import LedgerPort
from exchange.observability import logger, metrics
from exchange.orders.publisher import CommandSink
from exchange.orders.reconcile import PendingOrder, PendingOrders, reconcile_cancel
from exchange.wire import decode_command

DEAD_LETTERED_REASON: Final = "DEAD_LETTERED"
# Statuses from which the engine never took the order: PENDING_NEW, or REJECTED (by the engine,
# the reconciler's answer, or this consumer on an earlier delivery).
_NOT_TAKEN: Final = frozenset({OrderStatus.PENDING_NEW, OrderStatus.REJECTED})


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-lettered message: its body, the queue it came from, and why the broker
    dead-lettered it (``x-first-death-reason``: ``rejected`` by the engine, ``delivery_limit``)."""

    body: bytes
    queue: str = ""
    reason: str | None = None


class Outcome(StrEnum):
    REJECTED = "rejected"  # the order is now REJECTED and its hold released
    SETTLED_BEFORE = "settled-before"  # already rejected (a redelivery): nothing changed
    ENGINE_HOLDS = "engine-holds"  # the engine accepted the order: left alone
    LOGGED = "logged"  # a cancel or an amend
    OPERATOR = "operator"  # an operator's command: logged at error, nothing to settle
    UNDECODABLE = "undecodable"


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


class DeadLetterConsumer:
    def __init__(
        self,
        *,
        orders: PendingOrders,
        ledger: LedgerPort,
        sink: CommandSink,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._orders = orders
        self._ledger = ledger
        self._sink = sink
        self._clock = clock

    def handle(self, letter: DeadLetter) -> Outcome:
        """Settle one dead letter. Raises BrokerUnavailable, StoreUnavailable or a ledger error
        when a step could not be done; the message then comes again, and the steps that were
        done change nothing the second time."""
        _count("DeadLetteredCommands")
        try:
            command = decode_command(letter.body)
        except WireFormatError as exc:
            _count("UndecodableDeadLetters")
            logger.error(
                "undecodable dead letter acknowledged",
                extra={"queue": letter.queue, "reason": letter.reason, "size": len(letter.body),
                       "error": str(exc)},
            )  # fmt: skip
            return Outcome.UNDECODABLE
        if isinstance(command, NewOrder):
            return self._settle(command, letter)
        if isinstance(command, OperatorCommand):
            _count("DeadLetteredOperatorCommands")
            logger.error(
                "dead-lettered operator command: not applied; send it again",
                extra=_describe_operator(command, letter),
            )
            return Outcome.OPERATOR
        logger.warning("dead-lettered command", extra=_describe(command, letter))
        return Outcome.LOGGED

    def _settle(self, command: NewOrder, letter: DeadLetter) -> Outcome:
        order = PendingOrder(command.account_id, command.order_id, command.symbol, command.ts)
        found = self._orders.status(order.account_id, order.order_id)
        if found is not None and found[0] not in _NOT_TAKEN:
            _count("DeadLetteredLiveOrders")
            logger.warning(
                "dead-lettered NewOrder of an order the engine holds; left alone",
                extra={**_describe(command, letter), "status": found[0].value},
            )
            return Outcome.ENGINE_HOLDS
        now = self._clock()
        self._sink.publish(reconcile_cancel(order, now))
        rejected = found is not None and found[0] is OrderStatus.PENDING_NEW
        if rejected:
            detail = f"the engine never applied the order ({letter.reason or 'dead-lettered'})"
            rejected = self._orders.reject(
                order, reason=DEAD_LETTERED_REASON, detail=detail, now_ns=now
            )
        released = self._release(order.order_id)
        logger.warning(
            "dead-lettered NewOrder settled",
            extra={**_describe(command, letter), "rejected": rejected, "released": str(released)},
        )
        if rejected:
            _count("DeadLetteredOrdersRejected")
            return Outcome.REJECTED
        return Outcome.SETTLED_BEFORE

    def _release(self, order_id: str) -> Decimal:
        try:
            return self._ledger.release(order_id)
        except UnknownReservation:
            return Decimal(0)  # nothing was held (the placement never reserved)


def _describe_operator(command: OperatorCommand, letter: DeadLetter) -> dict[str, object]:
    return {
        "command": type(command).__name__,
        "command_id": command.command_id,
        "symbol": command.symbol,
        "actor": command.actor,
        "operator_reason": command.reason,
        "queue": letter.queue,
        "reason": letter.reason,
    }


def _describe(command: Command, letter: DeadLetter) -> dict[str, object]:
    return {
        "command": type(command).__name__,
        "symbol": command.symbol,
        "order_id": command.order_id,
        "queue": letter.queue,
        "reason": letter.reason,
    }
