"""Frames through the API Gateway Management API client: delivered to moto's server, and a
connection that answers Gone removed from the store.

moto's Management API accepts a post to any connection id (it never answers Gone), so Gone is
played by a botocore ``Stubber`` on the same client class; delivery is checked on moto's server.
"""

import json

import boto3
from botocore.stub import ANY, Stubber
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from exchange.journal.batch import consume
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.sender import ManagementApiSender
from exchange.realtime.session import open_connection
from exchange.testing.stores import InMemoryBookStore, InMemoryCursorStore
from exchange.wire import JournalRecord
from tests.integration.streams.conftest import REGION, Aws
from tests.unit.streams.helpers import CATALOG, busy_market


def received(connection_id: str) -> list[dict[str, object]]:
    """moto keeps one byte string per connection: the frames back to back."""
    data = (
        apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
        .connections[connection_id]
        .data.decode()
    )
    decoder, frames, index = json.JSONDecoder(), [], 0
    while index < len(data):
        frame, index = decoder.raw_decode(data, index)
        frames.append(frame)
    return frames


def test_fanout_posts_frames_through_the_management_api_to_moto(moto_server: str) -> None:
    # Given a sender whose endpoint is moto's server root (the stage URL in AWS)
    client = boto3.client("apigatewaymanagementapi", endpoint_url=moto_server, region_name=REGION)
    sender = ManagementApiSender(client)
    # When frames are posted to twelve connections (concurrently: above the threshold)
    messages = [
        (f"conn-{n}", json.dumps({"n": n, "k": k}).encode()) for n in range(12) for k in (1, 2)
    ]
    gone = sender.send_many(messages)
    # Then none is gone and each connection got its two frames, in order
    assert gone == set()
    assert received("conn-7") == [{"n": 7, "k": 1}, {"n": 7, "k": 2}]


def test_a_connection_that_answers_gone_is_removed_from_the_store(aws: Aws) -> None:
    # Given two book subscribers in DynamoDB; the API answers Gone for one of them
    store = DynamoConnectionStore()
    for connection_id in ("alive", "dead"):
        connection = open_connection(store, connection_id, None)
        store.subscribe(connection, "book.BTC-USD")
        store.subscribe(connection, "trades.BTC-USD")
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url="https://example.invalid/prod", region_name=REGION
    )
    stubber = Stubber(client)
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "alive", "Data": ANY})
    stubber.add_client_error(
        "post_to_connection", service_error_code="GoneException", http_status_code=410
    )
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "alive", "Data": ANY})
    fanout = Fanout(
        Broadcaster(store, ManagementApiSender(client)),
        InMemoryBookStore(),
        InMemoryCursorStore(),
        catalog=CATALOG,
    )
    # When fan-out posts a record with a book delta and a trade
    events = busy_market().events
    with stubber:
        consume(fanout, JournalRecord.of(events[:6]), {})
    # Then the Gone connection and all its subscriptions are deleted; the live one stays
    stubber.assert_no_pending_responses()
    assert store.get("dead") is None
    assert store.channels("dead") == []
    assert store.subscribers("trades.BTC-USD") == ["alive"]
