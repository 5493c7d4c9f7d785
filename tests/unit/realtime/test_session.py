"""Client messages: subscribe, unsubscribe, ping, and everything malformed."""

import base64
import json
import zlib

import pytest

from exchange.l2 import BookLevel, L2Book
from exchange.realtime.channels import InvalidChannel, UnknownSymbol, parse_channel
from exchange.realtime.session import Lifecycle
from tests.unit.realtime.helpers import World
from tests.unit.streams.helpers import CATALOG


@pytest.fixture
def world() -> World:
    world = World()
    world.connect("anon")
    world.connect("alice-1", "alice")
    return world


def test_subscribing_to_a_book_replies_subscribed_then_the_snapshot_with_its_seq(
    world: World,
) -> None:
    # Given a book in the store at seq 41
    world.books.books["BTC-USD"] = L2Book(
        symbol="BTC-USD", seq=41, bids=[BookLevel(6500000, 5000, 2)], asks=[]
    )
    # When an anonymous connection subscribes
    world.send("anon", {"action": "subscribe", "channel": "book.BTC-USD", "id": "r1"})
    # Then it is stored, and the replies come in order, decimals as strings
    assert world.connections.subscribers("book.BTC-USD") == ["anon"]
    assert world.received("anon") == [
        {"type": "subscribed", "channel": "book.BTC-USD", "id": "r1"},
        {"type": "snapshot", "channel": "book.BTC-USD", "seq": 41,
         "bids": [["65000.00", "0.5000", 2]], "asks": [],
         "checksum": zlib.crc32(b"65000.00:0.5000|")},
    ]  # fmt: skip


def test_a_book_without_a_snapshot_yet_says_so_and_keeps_the_subscription(world: World) -> None:
    world.send("anon", {"action": "subscribe", "channel": "book.ETH-USD"})
    frames = world.received("anon")
    assert [frame["type"] for frame in frames] == ["subscribed", "error"]
    assert frames[1]["code"] == "snapshot_unavailable"
    assert world.connections.subscribers("book.ETH-USD") == ["anon"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "malformed_message"),
        ("[1, 2]", "malformed_message"),
        ("", "malformed_message"),
        ('{"channel": "book.BTC-USD"}', "malformed_message"),
        ('{"action": 7}', "malformed_message"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"action": "subscribe"}', "malformed_message"),
        ('{"action": "subscribe", "channel": "weather.BTC-USD"}', "invalid_channel"),
        ('{"action": "subscribe", "channel": "book.DOGE-USD"}', "unknown_symbol"),
        ('{"action": "subscribe", "channel": "candles.BTC-USD.7m"}', "invalid_channel"),
        ('{"action": "subscribe", "channel": "orders.alice"}', "invalid_channel"),
        ('{"action": "subscribe", "channel": "orders"}', "unauthorized"),
        ('{"action": "subscribe", "channel": "balances"}', "unauthorized"),
        ('{"action": "subscribe", "channel": "balances.alice"}', "invalid_channel"),
        ('{"action": "subscribe", "channel": "ticker.DOGE-USD"}', "unknown_symbol"),
        ('{"action": "subscribe", "channel": "ticker"}', "invalid_channel"),
        ('{"action": "subscribe", "channel": "ticker.BTC-USD.1m"}', "invalid_channel"),
    ],
)
def test_bad_messages_get_an_error_frame_and_the_socket_stays(
    world: World, body: str, code: str
) -> None:
    # When an anonymous connection sends something malformed or not allowed
    reply = world.send("anon", body)
    # Then it gets an error frame with the code, nothing is stored, and it is still connected
    assert (reply["type"], reply["code"]) == ("error", code)
    assert world.received("anon") == [reply]
    assert world.connections.channels("anon") == []
    assert world.connections.get("anon") is not None


def test_the_orders_channel_is_stored_under_the_account_of_the_connection(world: World) -> None:
    world.send("alice-1", {"action": "subscribe", "channel": "orders"})
    assert world.connections.channels("alice-1") == ["orders.alice"]
    assert world.received("alice-1") == [{"type": "subscribed", "channel": "orders"}]


def test_the_balances_channel_is_private_to_the_account_of_the_connection(world: World) -> None:
    # When alice subscribes to balances (no balances come with it: the first frame is the next
    # change) and to a ticker
    world.send("alice-1", {"action": "subscribe", "channel": "balances", "id": "b"})
    world.send("alice-1", {"action": "subscribe", "channel": "ticker.BTC-USD"})
    # Then balances is stored under her account, the ticker under its name
    assert world.connections.channels("alice-1") == ["balances.alice", "ticker.BTC-USD"]
    assert world.received("alice-1") == [
        {"type": "subscribed", "channel": "balances", "id": "b"},
        {"type": "subscribed", "channel": "ticker.BTC-USD"},
    ]
    world.send("alice-1", {"action": "unsubscribe", "channel": "balances"})
    assert world.connections.channels("alice-1") == ["ticker.BTC-USD"]


def test_unsubscribe_removes_only_that_channel(world: World) -> None:
    world.send("anon", {"action": "subscribe", "channel": "trades.BTC-USD"})
    world.send("anon", {"action": "subscribe", "channel": "candles.BTC-USD.1m"})
    world.send("anon", {"action": "unsubscribe", "channel": "trades.BTC-USD"})
    assert world.connections.channels("anon") == ["candles.BTC-USD.1m"]
    assert world.received("anon")[-1] == {"type": "unsubscribed", "channel": "trades.BTC-USD"}


def test_ping_gets_pong_with_the_request_id(world: World) -> None:
    assert world.send("anon", {"action": "ping", "id": "p"}) == {
        "type": "pong",
        "ts": 42,
        "id": "p",
    }


def test_a_connection_has_a_bounded_number_of_subscriptions(world: World) -> None:
    session = world.session
    session.max_subscriptions = 2
    for channel in ("trades.BTC-USD", "trades.ETH-USD", "trades.SOL-USD"):
        reply = session.message("anon", json.dumps({"action": "subscribe", "channel": channel}))
    assert reply["code"] == "too_many_subscriptions"
    assert world.connections.channels("anon") == ["trades.BTC-USD", "trades.ETH-USD"]


def test_a_message_from_an_unknown_connection_is_answered_not_failed(world: World) -> None:
    reply = world.send("ghost", {"action": "subscribe", "channel": "trades.BTC-USD"})
    assert reply["code"] == "unknown_connection"
    assert world.connections.subscribers("trades.BTC-USD") == []


def test_the_route_event_is_decoded_and_always_answers_200(world: World) -> None:
    body = base64.b64encode(b'{"action": "ping"}').decode()
    event = {"requestContext": {"connectionId": "anon"}, "body": body, "isBase64Encoded": True}
    assert world.session.handle(event) == {"statusCode": 200}
    assert world.received("anon")[-1]["type"] == "pong"


def test_connect_records_the_authorizers_account_and_disconnect_removes_everything() -> None:
    world = World()
    lifecycle = Lifecycle(world.connections, ttl_seconds=600)
    authorizer = {"principalId": "bob", "account_id": "bob"}
    connect = {"requestContext": {"connectionId": "c1", "eventType": "CONNECT",
                                  "routeKey": "$connect", "authorizer": authorizer}}  # fmt: skip
    assert lifecycle.handle(connect) == {"statusCode": 200}
    connection = world.connections.get("c1")
    assert connection is not None
    assert connection.account_id == "bob"
    assert connection.expires_at - connection.connected_ns // 10**9 == 600
    world.send("c1", {"action": "subscribe", "channel": "orders"})
    lifecycle.handle({"requestContext": {"connectionId": "c1", "eventType": "DISCONNECT",
                                         "routeKey": "$disconnect"}})  # fmt: skip
    assert world.connections.get("c1") is None
    assert world.connections.channels("c1") == []


def test_an_anonymous_authorizer_context_means_no_account() -> None:
    world = World()
    Lifecycle(world.connections).handle(
        {"requestContext": {"connectionId": "c2", "routeKey": "$connect",
                            "authorizer": {"principalId": "anonymous", "account_id": ""}}}
    )  # fmt: skip
    connection = world.connections.get("c2")
    assert connection is not None
    assert connection.account_id is None


def test_channel_names_parse_to_kinds_and_keys() -> None:
    assert parse_channel("book.BTC-USD", CATALOG).symbol == "BTC-USD"
    assert parse_channel("orders", CATALOG).private
    with pytest.raises(UnknownSymbol):
        parse_channel("trades.XXX-USD", CATALOG)
    with pytest.raises(InvalidChannel):
        parse_channel("book", CATALOG)
    with pytest.raises(InvalidChannel):
        parse_channel("orders", CATALOG).key(None)
    with pytest.raises(InvalidChannel, match="balances channel needs"):
        parse_channel("balances", CATALOG).key(None)
    assert parse_channel("balances", CATALOG).private
    assert not parse_channel("ticker.SOL-USD", CATALOG).private
