"""Faults on the publish path, injected by a TCP proxy between the orders function's broker sink
and the real RabbitMQ (``amqp_proxy``): a lost confirm, a connection closed right after the
publish, a broker that stalls past the deadline. The handler is driven as API Gateway would,
retried like ``exchange_client`` does (same Idempotency-Key and body on a 502/503/504).

What can be proven, and is: one order row, one hold, no second order id on the queue, the order
kept PENDING_NEW with its hold while the outcome is unknown, and a cancel for the same order id
whenever the NewOrder went unconfirmed. The queued commands are then run through the real
matching engine: it answers the order exactly once, and never makes two orders of it.
"""

import itertools
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from msgspec.structs import replace
from psycopg_pool import ConnectionPool

from engine_service.core import Engine
from exchange.domain import CancelOrder, NewOrder, OrderAccepted, OrderCancelled, OrderRejected
from exchange.domain.commands import Command
from exchange.domain.enums import RejectReason
from exchange.domain.events import Event
from exchange.ledger.postgres import PostgresLedger
from exchange.messaging import ShardMap
from exchange.orders.errors import BrokerUnavailable, PublishUnconfirmed
from exchange.orders.publisher import RabbitCommandSink
from exchange.orders.service import OrderService
from exchange.tables import OrderRecord
from exchange.wire import decode_command
from exchange_client.http import RETRY_STATUSES
from tests.integration.api.amqp_proxy import AmqpProxy, Fault
from tests.integration.api.conftest import CATALOG, account, call_orders, queued
from tests.unit.api.conftest import Reply

BUY: dict[str, Any] = {
    "symbol": "BTC-USD",
    "side": "BUY",
    "order_type": "LIMIT",
    "qty": "0.5",
    "price": "65000.00",
}
HOLD = Decimal("32516.25")
DEADLINE_S = 0.5


@pytest.fixture
def proxy(rabbitmq_url: str) -> Iterator[AmqpProxy]:
    proxy = AmqpProxy(rabbitmq_url)
    yield proxy
    proxy.close()


@dataclass
class Bench:
    """The orders function's logic with its broker sink behind the proxy, and what to inspect."""

    orders: OrderService
    proxy: AmqpProxy
    ledger: PostgresLedger
    pool: ConnectionPool
    rabbitmq_url: str
    shard: str

    def queued(self) -> list[Command]:
        commands = [decode_command(body) for body in queued(self.rabbitmq_url, self.shard)]
        return [command for command in commands if isinstance(command, Command)]


@pytest.fixture
def bench(request: pytest.FixtureRequest, proxy: AmqpProxy, shard: str) -> Bench:
    make_orders: Callable[..., OrderService] = request.getfixturevalue("make_orders")
    shards = ShardMap({shard: CATALOG.symbols})
    orders = make_orders(shards, broker_url=proxy.url, deadline_s=DEADLINE_S)
    return Bench(
        orders,
        proxy,
        request.getfixturevalue("ledger"),
        request.getfixturevalue("api_pool"),
        request.getfixturevalue("rabbitmq_url"),
        shard,
    )


def place_with_retries(service: OrderService, account_id: str, key: str) -> list[Reply]:
    """As the client does: the same key and body again on 502, 503 or 504."""
    replies: list[Reply] = []
    for _ in range(4):
        replies.append(
            call_orders(
                service,
                "POST",
                "/v1/orders",
                body=BUY,
                account_id=account_id,
                headers={"Idempotency-Key": key},
            )
        )
        if replies[-1].status not in RETRY_STATUSES:
            break
    return replies


def held(pool: ConnectionPool, account_id: str) -> list[tuple[str, Decimal]]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT order_id, held FROM ledger.reservations WHERE account_id = %s AND held > 0",
            (account_id,),
        ).fetchall()
    return [(str(order_id), Decimal(str(amount))) for order_id, amount in rows]


def engine_events(commands: list[Command]) -> list[Event]:
    """The matching engine's journaled events for the queued commands, in order, with seqs in a
    range of their own (the ledger is idempotent on (symbol, seq) across the session)."""
    engine = Engine(list(CATALOG))
    base = next(SEQ_BASES)
    events = [event for command in commands for event in engine.apply(command)]
    return [replace(e, seq=e.seq + base) for e in events if e.seq]


def engine_answers(commands: list[Command], order_id: str) -> list[object]:
    """The matching engine's events about ``order_id`` for the queued commands, in order."""
    return [e for e in engine_events(commands) if getattr(e, "order_id", None) == order_id]


SEQ_BASES = itertools.count(2 * 10**12, 10**7)
AMBIGUOUS = [Fault.DROP_CONFIRM, Fault.CLOSE_AFTER_PUBLISH, Fault.STALL]


@pytest.mark.parametrize("fault", AMBIGUOUS)
def test_an_unconfirmed_order_is_kept_pending_with_one_hold_and_cancelled(
    bench: Bench, fault: Fault
) -> None:
    # Given a fault at the NewOrder's publish (the cancel's connection is healthy)
    alice = account(bench.ledger)
    bench.proxy.arm(fault)
    # When alice places an order, retrying as the client does
    replies = place_with_retries(bench.orders, alice, "k1")
    # Then the first answer is 202 PENDING_NEW (nothing to retry), naming one order
    assert bench.proxy.faults_injected == [fault]
    assert [(r.status, r.body["status"]) for r in replies] == [(202, "PENDING_NEW")]
    order_id = replies[0].body["order_id"]
    # And there is one order row, PENDING_NEW, and one hold, for that order
    [row] = list(OrderRecord.query(alice))
    assert (row.order_id, row.status) == (order_id, "PENDING_NEW")
    assert held(bench.pool, alice) == [(order_id, HOLD)]
    # And the queue holds a cancel for that order id, and no other order id
    commands = bench.queued()
    assert {c.order_id for c in commands} == {order_id}
    assert sum(isinstance(c, CancelOrder) for c in commands) == 1
    new_orders = sum(isinstance(c, NewOrder) for c in commands)
    if fault is Fault.DROP_CONFIRM:
        assert new_orders == 1  # it reached the broker; only the confirm was lost
    elif fault is Fault.STALL:
        assert new_orders == 0  # it never left the proxy
    else:
        assert new_orders <= 1  # closed right after the frames: the broker may have routed it
    # And the engine answers the order once, definitely: cancelled, or never taken
    answers = engine_answers(commands, order_id)
    assert sum(isinstance(e, OrderAccepted) for e in answers) == new_orders
    final = answers[-1]
    if new_orders:
        assert isinstance(final, OrderCancelled)
    else:
        assert isinstance(final, OrderRejected)
        assert final.reason is RejectReason.UNKNOWN_ORDER
    # And once settlement applies the engine's answers, no hold is stranded
    bench.ledger.apply_events(engine_events(commands))
    assert held(bench.pool, alice) == []


@pytest.mark.parametrize("fault", AMBIGUOUS)
def test_when_nothing_is_confirmed_the_clients_retry_resumes_the_same_order(
    bench: Bench, fault: Fault
) -> None:
    # Given the fault at the NewOrder's publish and again at its cancel's
    alice = account(bench.ledger)
    bench.proxy.arm(fault, times=2)
    # When alice places an order, retrying as the client does
    replies = place_with_retries(bench.orders, alice, "k1")
    # Then 503 (the order kept), and the retry resumes the same order: 202
    assert bench.proxy.faults_injected == [fault, fault]
    assert [r.status for r in replies] == [503, 202]
    order_id = replies[1].body["order_id"]
    assert order_id in replies[0].body["detail"]
    # And there is still one order row and one hold
    [row] = list(OrderRecord.query(alice))
    assert (row.order_id, row.status) == (order_id, "PENDING_NEW")
    assert held(bench.pool, alice) == [(order_id, HOLD)]
    # And every queued command is for that order id; the engine takes it at most once
    commands = bench.queued()
    assert {c.order_id for c in commands} == {order_id}
    assert isinstance(commands[-1], NewOrder)  # the retry's, confirmed
    answers = engine_answers(commands, order_id)
    assert sum(isinstance(e, OrderAccepted) for e in answers) <= 1


def test_a_stalled_broker_costs_the_publish_deadline_not_the_function_timeout(
    proxy: AmqpProxy, shard: str, sinks: list[RabbitCommandSink]
) -> None:
    sink = RabbitCommandSink(
        lambda: proxy.url, ShardMap({shard: CATALOG.symbols}), deadline_s=DEADLINE_S
    )
    sinks.append(sink)
    proxy.arm(Fault.STALL)
    cancel = CancelOrder(
        symbol="BTC-USD", ts=1, command_id="c1", order_id="01HF7YAT000000000000000000",
        account_id="a",
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(PublishUnconfirmed):
        sink.publish(cancel)
    assert time.monotonic() - started < DEADLINE_S + 0.5


def test_a_broker_that_accepts_but_never_answers_is_unavailable_within_the_deadline(
    shard: str, sinks: list[RabbitCommandSink]
) -> None:
    # Given a listener that accepts TCP connections and never speaks AMQP
    silent = socket.create_server(("127.0.0.1", 0))
    url = f"amqp://guest:guest@127.0.0.1:{silent.getsockname()[1]}/%2F"
    sink = RabbitCommandSink(lambda: url, ShardMap({shard: CATALOG.symbols}), deadline_s=DEADLINE_S)
    sinks.append(sink)
    cancel = CancelOrder(
        symbol="BTC-USD", ts=1, command_id="c1", order_id="01HF7YAT000000000000000000",
        account_id="a",
    )  # fmt: skip
    started = time.monotonic()
    try:
        # Then the publish fails as certainly unsent (nothing got past the handshake), in time
        with pytest.raises(BrokerUnavailable) as raised:
            sink.publish(cancel)
        assert not isinstance(raised.value, PublishUnconfirmed)
        assert time.monotonic() - started < DEADLINE_S + 0.5
    finally:
        silent.close()
