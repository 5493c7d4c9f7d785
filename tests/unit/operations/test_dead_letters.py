"""Dead-lettered commands: a NewOrder the engine never applied gets its order REJECTED
(``DEAD_LETTERED``) and its hold released, once however often it is redelivered; other commands
and undecodable messages are logged and counted. Through the function's handler, on the event an
Amazon MQ event source mapping sends."""

import json
from decimal import Decimal

import pytest

from exchange import wire
from exchange.domain import (
    AmendOrder,
    CancelOrder,
    InstrumentCatalog,
    NewOrder,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from exchange.ids import command_id
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
DLQ = "engine.s1.dlq"


class Exchange:
    """An order placed as the API does (held, recorded PENDING_NEW, published), whose NewOrder
    then died in the dead-letter queue."""

    def __init__(self) -> None:
        self.orders = InMemoryPendingOrders()
        self.ledger = InMemoryLedger(CATALOG)
        self.sink = InMemoryCommandSink()
        self.ledger.open_account("alice", kyc_status=KycStatus.VERIFIED)
        self.ledger.fund("alice", "USD", Decimal(100_000))
        self.command = NewOrder(
            symbol="BTC-USD", ts=1, order_id=ORDER, account_id="alice", client_order_id="c1",
            side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
            qty=BTC.qty_to_lots("0.5"), price=BTC.price_to_ticks("65000"),
        )  # fmt: skip
        self.ledger.reserve(self.command)
        self.orders.add(PendingOrder("alice", ORDER, "BTC-USD", 1))

    def deliver(self, *bodies: bytes, reason: str = "delivery_limit") -> dict[str, int]:
        consumer = DeadLetterConsumer(
            orders=self.orders, ledger=self.ledger, sink=self.sink, clock=lambda: 99
        )
        messages = [
            rabbitmq_message(body, headers={"x-first-death-reason": reason}, redelivered=True)
            for body in bodies
        ]
        outcomes: dict[str, int] = handler(
            rabbitmq_event({DLQ: messages}),
            LambdaContextStub(function_name="dead_letters"),
            consumer=consumer,
        )
        return outcomes

    @property
    def held(self) -> Decimal:
        return self.ledger.held[("alice", "USD")]


@pytest.fixture
def exchange() -> Exchange:
    return Exchange()


def test_a_dead_lettered_new_order_is_rejected_and_its_hold_released(exchange: Exchange) -> None:
    # Given an order PENDING_NEW with funds held, whose NewOrder was dead-lettered
    assert exchange.held > 0
    # When the dead letter is consumed
    outcome = exchange.deliver(wire.encode_command(exchange.command))
    # Then the order is REJECTED as dead-lettered, and nothing is held any more
    assert outcome == {"rejected": 1}
    status, reason = exchange.orders.status("alice", ORDER)  # type: ignore[misc]
    assert (status, reason) == (OrderStatus.REJECTED, "DEAD_LETTERED")
    assert "delivery_limit" in (exchange.orders.rows[("alice", ORDER)].detail or "")
    assert exchange.held == 0
    assert exchange.ledger.available[("alice", "USD")] == Decimal(100_000)
    # And the engine gets the reconcile cancel, so any other copy of the NewOrder is refused
    (cancel,) = exchange.sink.commands
    assert isinstance(cancel, CancelOrder)
    assert cancel.command_id == command_id("alice", ORDER, "reconcile")


def test_a_redelivered_dead_letter_changes_nothing_twice(exchange: Exchange) -> None:
    body = wire.encode_command(exchange.command)
    exchange.deliver(body)
    available = exchange.ledger.available[("alice", "USD")]
    # When the same dead letter comes again (the batch failed after it, or a duplicate)
    assert exchange.deliver(body, body) == {"settled-before": 2}
    # Then the order was rejected once, the balance did not move, and the cancel is the same
    assert exchange.orders.rejects == 1
    assert exchange.ledger.available[("alice", "USD")] == available
    assert all(isinstance(c, CancelOrder) for c in exchange.sink.commands)
    assert {getattr(c, "command_id", None) for c in exchange.sink.commands} == {
        command_id("alice", ORDER, "reconcile")
    }


def test_a_dead_letter_of_an_order_the_engine_accepted_is_left_alone(exchange: Exchange) -> None:
    # Given another copy of the NewOrder got through: the recorder saw the order accepted
    exchange.orders.rows[("alice", ORDER)].status = OrderStatus.NEW
    held = exchange.held
    assert exchange.deliver(wire.encode_command(exchange.command)) == {"engine-holds": 1}
    # Then its hold stays, it is not cancelled, and it is not rejected
    assert exchange.held == held
    assert exchange.sink.commands == []
    assert exchange.orders.status("alice", ORDER) == (OrderStatus.NEW, None)


def test_dead_lettered_cancels_and_amends_are_logged_only(exchange: Exchange) -> None:
    cancel = CancelOrder(
        symbol="BTC-USD", ts=2, command_id="k1", order_id=ORDER, account_id="alice"
    )
    amend = AmendOrder(
        symbol="BTC-USD", ts=3, command_id="k2", order_id=ORDER, account_id="alice", qty=1
    )
    held = exchange.held
    outcome = exchange.deliver(wire.encode_command(cancel), wire.encode_command(amend))
    assert outcome == {"logged": 2}
    assert exchange.held == held
    assert exchange.orders.status("alice", ORDER) == (OrderStatus.PENDING_NEW, None)
    assert exchange.sink.commands == []


def test_an_undecodable_dead_letter_is_counted_and_acknowledged(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = exchange.deliver(b"\x09poison", reason="rejected")
    assert outcome == {"undecodable": 1}  # returned, so the batch is acknowledged
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert emf["DeadLetteredCommands"] in (1, [1.0])
    assert emf["UndecodableDeadLetters"] in (1, [1.0])


def test_a_dead_letter_of_an_order_never_recorded_still_releases_its_hold(
    exchange: Exchange,
) -> None:
    # Given a hold whose order row is missing (the store write failed after the reservation)
    exchange.orders.rows.clear()
    assert exchange.deliver(wire.encode_command(exchange.command)) == {"settled-before": 1}
    assert exchange.held == 0
