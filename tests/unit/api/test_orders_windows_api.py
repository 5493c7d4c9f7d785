"""Time windows (start, end) with cursors on GET /v1/orders and GET /v1/fills, over in-memory
fakes with the DynamoDB store's rules (``tests.unit.orders.fakes``)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exchange.orders.model import Fill
from tests.unit.api.conftest import ALICE, BOB, LIMIT_BUY, Exchange, Reply
from tests.unit.orders.fakes import START_NS
from tests.unit.orders.wiring import Bulk, bulk_exchange

ORDER_A, ORDER_B = "01HF7YAT000000000000000001", "01HF7YAT000000000000000002"
ETH_BUY = {"symbol": "ETH-USD", "side": "BUY", "order_type": "LIMIT", "qty": "1", "price": "3000"}
T0 = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=START_NS // 1000)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def bulk() -> tuple[Exchange, Bulk]:
    return bulk_exchange()


@pytest.fixture
def minutes(bulk: tuple[Exchange, Bulk]) -> list[str]:
    """Alice's orders, one a minute from T0 + 1 min, alternately BTC and ETH (and one of bob's
    each minute too): their ids, oldest first."""
    exchange, fakes = bulk
    ids = []
    for minute in range(6):
        fakes.clock.now_ns = START_NS + (minute + 1) * 60_000_000_000
        body = LIMIT_BUY if minute % 2 == 0 else ETH_BUY
        reply = exchange.call("POST", "/v1/orders", body=body, account_id=ALICE)
        exchange.call("POST", "/v1/orders", body=body, account_id=BOB)
        ids.append(reply.body["order_id"])
    return ids


def orders(exchange: Exchange, **query: Any) -> Reply:
    return exchange.call("GET", "/v1/orders", query=query, account_id=ALICE)


def pages(exchange: Exchange, path: str, field: str, **query: Any) -> list[list[str]]:
    """Every page of a listing, following next_cursor with the same query."""
    got: list[list[str]] = []
    cursor = None
    while True:
        params = {key: str(value) for key, value in query.items()} | (
            {"cursor": cursor} if cursor else {}
        )
        reply = exchange.call("GET", path, query=params, account_id=ALICE)
        assert reply.status == 200, reply.body
        key = "order_id" if field == "orders" else "fill_id"
        got.append([item[key] for item in reply.body[field]])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return got


def test_orders_in_a_window_are_those_placed_from_start_until_before_end(
    bulk: tuple[Exchange, Bulk], minutes: list[str]
) -> None:
    exchange, _ = bulk
    # When alice lists [T0+2min, T0+5min): the orders of minutes 2, 3 and 4
    reply = orders(
        exchange, start=iso(T0 + timedelta(minutes=2)), end=iso(T0 + timedelta(minutes=5))
    )
    # Then she gets exactly those, newest first (start inclusive, end exclusive)
    assert [o["order_id"] for o in reply.body["orders"]] == minutes[1:4][::-1]


def test_a_window_pages_with_its_cursor_and_never_leaves_the_window(
    bulk: tuple[Exchange, Bulk], minutes: list[str]
) -> None:
    exchange, _ = bulk
    got = pages(
        exchange,
        "/v1/orders",
        "orders",
        start=iso(T0 + timedelta(minutes=2)),
        end=iso(T0 + timedelta(minutes=6)),
        limit=3,
    )
    assert got == [minutes[4:1:-1], minutes[1:2]]


def test_an_open_ended_window(bulk: tuple[Exchange, Bulk], minutes: list[str]) -> None:
    exchange, _ = bulk
    since = orders(exchange, start=iso(T0 + timedelta(minutes=5)))
    until = orders(exchange, end=iso(T0 + timedelta(minutes=2)))
    assert [o["order_id"] for o in since.body["orders"]] == minutes[:3:-1]
    assert [o["order_id"] for o in until.body["orders"]] == minutes[:1]


def test_a_window_with_a_symbol_lists_that_symbol_newest_first(
    bulk: tuple[Exchange, Bulk], minutes: list[str]
) -> None:
    exchange, _ = bulk
    window = {"start": iso(T0), "end": iso(T0 + timedelta(minutes=6))}
    by_symbol = pages(exchange, "/v1/orders", "orders", symbol="BTC-USD", limit=2, **window)
    with_status = orders(exchange, symbol="ETH-USD", status="PENDING_NEW", **window)
    # BTC: minutes 1, 3, 5 (the window ends before minute 6); ETH: minutes 2 and 4
    assert by_symbol == [[minutes[4], minutes[2]], [minutes[0]]]
    assert [o["order_id"] for o in with_status.body["orders"]] == [minutes[3], minutes[1]]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2027-01-15T08:05:00Z", "2027-01-15T08:05:00Z"),
        ("2027-01-15T09:00:00Z", "2027-01-15T08:00:00Z"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/orders", "/v1/fills"])
def test_an_end_not_after_start_is_a_422(
    bulk: tuple[Exchange, Bulk], path: str, start: str, end: str
) -> None:
    exchange, _ = bulk
    reply = exchange.call("GET", path, query={"start": start, "end": end}, account_id=ALICE)
    assert (reply.status, reply.body["code"]) == (422, "invalid_time_range")
    assert reply.is_problem


@pytest.mark.parametrize(
    "value", ["1800000000000", "2027-01-15T08:00:00", "2027-01-15", "2027-13-01T00:00:00Z", "soon"]
)
def test_a_time_that_is_not_iso_8601_with_an_offset_is_a_400(
    bulk: tuple[Exchange, Bulk], value: str
) -> None:
    exchange, _ = bulk
    reply = orders(exchange, start=value)
    assert (reply.status, reply.body["code"]) == (400, "validation_error")
    assert reply.body["errors"][0]["field"] == "query.start"


def test_a_time_with_another_offset_means_the_same_instant(
    bulk: tuple[Exchange, Bulk], minutes: list[str]
) -> None:
    exchange, _ = bulk
    utc = orders(exchange, start=iso(T0 + timedelta(minutes=4)))
    shifted = orders(
        exchange, start=(T0 + timedelta(minutes=4, hours=2)).isoformat()[:19] + "+02:00"
    )
    assert utc.body["orders"] == shifted.body["orders"] != []


def fill(order_id: str, ts_ns: int, seq: int) -> Fill:
    return Fill(
        fill_id=f"{ts_ns:020d}#BTC-USD#{seq:012d}#MAKER",
        order_id=order_id,
        symbol="BTC-USD",
        seq=seq,
        side="BUY",
        role="MAKER",
        price="65000.00",
        qty="0.1",
        fee="0",
        fee_asset="USD",
        ts_ns=ts_ns,
    )


def test_fills_in_a_window_page_newest_first_within_it(bulk: tuple[Exchange, Bulk]) -> None:
    # Given alice's fills one second apart on two orders (and bob's at the same times)
    exchange, _ = bulk
    rows = [fill(ORDER_A if n % 2 else ORDER_B, START_NS + n * 1_000_000_000, n) for n in range(8)]
    for row in rows:
        exchange.store.add_fill(ALICE, row)
        exchange.store.add_fill(BOB, row)
    window = {"start": iso(T0 + timedelta(seconds=2)), "end": iso(T0 + timedelta(seconds=7))}
    # When she pages through [T0+2s, T0+7s), and the same for one order
    every = pages(exchange, "/v1/fills", "fills", limit=2, **window)
    of_one = pages(exchange, "/v1/fills", "fills", order_id=ORDER_B, limit=2, **window)
    # Then fills 2..6 come newest first; of order B the even ones
    ids = [row.fill_id for row in rows]
    assert every == [[ids[6], ids[5]], [ids[4], ids[3]], [ids[2]]]
    assert of_one == [[ids[6], ids[4]], [ids[2]]]


def test_a_fill_at_the_end_of_the_window_is_outside_it(bulk: tuple[Exchange, Bulk]) -> None:
    exchange, _ = bulk
    at_end = fill(ORDER_A, START_NS + 60_000_000_000, 1)
    exchange.store.add_fill(ALICE, at_end)
    outside = exchange.call(
        "GET", "/v1/fills", query={"end": iso(T0 + timedelta(minutes=1))}, account_id=ALICE
    )
    inside = exchange.call(
        "GET", "/v1/fills", query={"start": iso(T0 + timedelta(minutes=1))}, account_id=ALICE
    )
    assert outside.body["fills"] == []
    assert [f["fill_id"] for f in inside.body["fills"]] == [at_end.fill_id]
