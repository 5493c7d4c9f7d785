"""A dead-lettered operator command (a status change, a mass cancel, a freeze, a listing) has no
order to settle: it is logged at error with its command id and counted
(``DeadLetteredOperatorCommands``); nothing is published, rejected or released, and the batch
does not fail. Through the function's handler, on the event an Amazon MQ event source mapping
sends."""

import json
import logging
from decimal import Decimal

import pytest

from exchange import wire
from exchange.domain import (
    FreezeAccount,
    InstrumentCatalog,
    InstrumentStatus,
    ListInstrument,
    MassCancel,
    NewOrder,
    OperatorCommand,
    OrderType,
    SetTradingStatus,
    Side,
    TimeInForce,
)
from exchange.ledger.model import KycStatus
from exchange.orders.dead_letters import DeadLetterConsumer
from exchange.orders.reconcile import PendingOrder
from exchange.testing.fakes import InMemoryCommandSink, InMemoryLedger
from exchange.testing.lambda_events import LambdaContextStub, rabbitmq_event, rabbitmq_message
from lambdas.dead_letters.handler import handler
from tests.unit.operations.fakes import InMemoryPendingOrders

CATALOG = InstrumentCatalog.demo()
BTC = CATALOG.get("BTC-USD")
ORDER = "01HF7YAT000000000000000001"
COMMANDS: list[OperatorCommand] = [
    SetTradingStatus(symbol="BTC-USD", ts=5, command_id="adm_status",
                     status=InstrumentStatus.HALTED, actor="olga", reason="incident 42"),
    MassCancel(symbol="BTC-USD", ts=5, command_id="adm_cancel", actor="olga",
               reason="incident 42"),
    FreezeAccount(symbol="BTC-USD", ts=5, command_id="adm_freeze", account_id="alice",
                  frozen=True, actor="olga", reason="incident 42"),
    ListInstrument(symbol="BTC-USD", ts=5, command_id="list:BTC-USD:2",
                   instrument=BTC.model_dump_json(), version=2, actor="olga",
                   reason="incident 42"),
]  # fmt: skip
NEW_ORDER = NewOrder(
    symbol="BTC-USD", ts=1, order_id=ORDER, account_id="alice", client_order_id="c1",
    side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
    qty=BTC.qty_to_lots("0.5"), price=BTC.price_to_ticks("65000"),
)  # fmt: skip


class Exchange:
    """Alice's order, held and recorded PENDING_NEW, which no operator command may touch."""

    def __init__(self) -> None:
        self.orders = InMemoryPendingOrders()
        self.ledger = InMemoryLedger(CATALOG)
        self.sink = InMemoryCommandSink()
        self.ledger.open_account("alice", kyc_status=KycStatus.VERIFIED)
        self.ledger.fund("alice", "USD", Decimal(100_000))
        self.ledger.reserve(NEW_ORDER)
        self.orders.add(PendingOrder("alice", ORDER, "BTC-USD", 1))
        self.held = self.ledger.held[("alice", "USD")]

    def deliver(self, *bodies: bytes) -> dict[str, int]:
        consumer = DeadLetterConsumer(orders=self.orders, ledger=self.ledger, sink=self.sink)
        messages = [
            rabbitmq_message(body, headers={"x-first-death-reason": "rejected"}) for body in bodies
        ]
        outcomes: dict[str, int] = handler(
            rabbitmq_event({"engine.s1.dlq": messages}),
            LambdaContextStub(function_name="dead_letters"),
            consumer=consumer,
        )
        return outcomes


def emitted(out: str, name: str) -> float:
    total = 0.0
    for line in out.splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            raw = json.loads(line)[name]
            total += sum(raw) if isinstance(raw, list) else raw
    return total


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: type(command).__name__)
def test_a_dead_lettered_operator_command_is_logged_counted_and_settles_nothing(
    command: OperatorCommand,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given alice's order, and an operator's command that died in the dead-letter queue
    exchange = Exchange()
    capsys.readouterr()
    # When the dead-letter function gets it
    with caplog.at_level(logging.ERROR):
        outcomes = exchange.deliver(wire.encode_command(command))
    # Then it is acknowledged as an operator's, logged at error with its command id and operator
    assert outcomes == {"operator": 1}
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "operator command" in record.getMessage()
    assert (record.command_id, record.actor, record.command) == (  # type: ignore[attr-defined]
        command.command_id, "olga", type(command).__name__,
    )  # fmt: skip
    # And counted, besides every dead letter's count
    out = capsys.readouterr().out
    assert emitted(out, "DeadLetteredOperatorCommands") == 1
    assert emitted(out, "DeadLetteredCommands") == 1
    # And nothing was published, rejected or released
    assert exchange.sink.commands == []
    assert exchange.orders.rejects == 0
    assert exchange.ledger.held[("alice", "USD")] == exchange.held


def test_operator_commands_among_orders_commands_settle_only_the_orders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a batch with every operator command and alice's dead NewOrder
    exchange = Exchange()
    bodies = [wire.encode_command(c) for c in [*COMMANDS, NEW_ORDER]]
    # When it is delivered
    outcomes = exchange.deliver(*bodies)
    # Then the four are counted as operators' and the order is settled as ever
    assert outcomes == {"operator": 4, "rejected": 1}
    assert exchange.ledger.held[("alice", "USD")] == 0
    assert emitted(capsys.readouterr().out, "DeadLetteredOperatorCommands") == 4
