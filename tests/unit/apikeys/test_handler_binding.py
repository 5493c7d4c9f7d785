"""The handler's side of a signed request (``exchange.http.identity``, run by ``serve``): the
real orders handler over in-memory fakes, given the proxy event API Gateway makes after the REST
authorizer's answer.

API Gateway reuses an authorizer's answer for any request with the same identity source (the
``Authorization`` header) while it is cached ("Use API Gateway Lambda authorizers": "If you
enable authorization caching, API Gateway caches the policy ..."), and passes the answer's
``context`` to the integration as ``requestContext.authorizer`` ("Output from an API Gateway
Lambda authorizer"). So the handler must refuse a request that differs from the one verified.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from exchange.apikeys import signing
from exchange.http.admission import use_rate_limiter
from exchange.testing.apikeys import InMemoryRateLimiter, rest_authorizer_event, with_authorizer
from exchange.testing.lambda_events import LambdaContextStub, rest_proxy_event
from lambdas.api_keys.handler import handler as api_keys_handler
from lambdas.orders.handler import handler as orders_handler
from tests.unit.api.conftest import ALICE, Exchange, Reply, make_exchange
from tests.unit.apikeys.conftest import KEY_ADDRESS, START_MS, Keys, Signed, sign

# Read-only routes emit no metric; Powertools warns about that on every flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ORDER = (
    b'{"symbol":"BTC-USD","side":"BUY","order_type":"LIMIT","qty":"0.5","price":"100",'
    b'"client_order_id":"bot-1"}'
)


@pytest.fixture
def exchange(monkeypatch: pytest.MonkeyPatch) -> Iterator[Exchange]:
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    use_rate_limiter(InMemoryRateLimiter())
    yield make_exchange()
    use_rate_limiter(None)


def call(exchange: Exchange, event: dict[str, Any]) -> Reply:
    return Reply.of(orders_handler(event, LambdaContextStub(), orders=exchange.orders))


def verified(keys: Keys, signed: Signed, **changes: Any) -> dict[str, Any]:
    """The proxy event of ``signed`` (or of a changed request: ``changes``), with the answer the
    authorizer gave ``signed``, as a cached answer would reach a changed request."""
    answer = keys.authorizer.authorize(signed.authorizer_event())
    return with_authorizer(signed.proxy_event(received_ms=START_MS, **changes), answer)


def test_a_signed_order_is_placed_for_the_keys_account(keys: Keys, exchange: Exchange) -> None:
    created = keys.create(["trade"], account_id=ALICE)
    reply = call(exchange, verified(keys, sign(created, "POST", "/v1/orders", body=ORDER)))
    assert reply.status == 202, reply.body
    assert [order.account_id for order in exchange.store.orders.values()] == [ALICE]


def test_a_signed_read_with_a_query_is_served(keys: Keys, exchange: Exchange) -> None:
    created = keys.create(["read"], account_id=ALICE)
    signed = sign(created, "GET", "/v1/orders", query={"symbol": ["BTC-USD"], "limit": ["5"]})
    reply = call(exchange, verified(keys, signed))
    assert (reply.status, reply.body["orders"]) == (200, [])


@pytest.mark.parametrize(
    "changes",
    [
        {"body": ORDER.replace(b'"0.5"', b'"50"')},  # another body, same header
        {"query": {"extra": ["1"]}},  # another query
        {"path": "/v1/orders/01HF7YAT0000000000000000AA", "resource": "/v1/orders/{order_id}"},
    ],
)
def test_a_request_changed_after_its_signature_was_verified_is_a_401(
    keys: Keys, exchange: Exchange, changes: dict[str, Any]
) -> None:
    created = keys.create(["read", "trade"], account_id=ALICE)
    reply = call(
        exchange, verified(keys, sign(created, "POST", "/v1/orders", body=ORDER), **changes)
    )
    assert (reply.status, reply.body["code"]) == (401, "unauthorized")
    assert exchange.store.orders == {}


def test_a_cached_answer_used_from_another_address_is_a_403(keys: Keys, exchange: Exchange) -> None:
    created = keys.create(["trade"], account_id=ALICE, allowed_ips=["203.0.113.0/24"])
    signed = sign(created, "POST", "/v1/orders", body=ORDER)
    reply = call(exchange, verified(keys, signed, source_ip="198.51.100.1"))
    assert (reply.status, reply.body["code"]) == (403, "forbidden")
    assert exchange.store.orders == {}


def test_a_replay_after_the_window_is_a_401_even_with_a_cached_answer(
    keys: Keys, exchange: Exchange
) -> None:
    created = keys.create(["trade"], account_id=ALICE)
    signed = sign(created, "POST", "/v1/orders", body=ORDER)
    answer = keys.authorizer.authorize(signed.authorizer_event())
    late = START_MS + signing.DEFAULT_WINDOW_MS + 1
    reply = call(exchange, with_authorizer(signed.proxy_event(received_ms=late), answer))
    assert (reply.status, reply.body["code"]) == (401, "unauthorized")
    in_time = START_MS + signing.DEFAULT_WINDOW_MS
    assert (
        call(exchange, with_authorizer(signed.proxy_event(received_ms=in_time), answer)).status
        == 202
    )


def test_a_context_whose_scopes_lack_the_route_is_a_403(keys: Keys, exchange: Exchange) -> None:
    created = keys.create(["trade"], account_id=ALICE)
    signed = sign(created, "POST", "/v1/orders", body=ORDER)
    answer = keys.authorizer.authorize(signed.authorizer_event())
    answer["context"]["scopes"] = "read"
    reply = call(exchange, with_authorizer(signed.proxy_event(received_ms=START_MS), answer))
    assert (reply.status, reply.body["code"]) == (403, "forbidden")


def test_an_access_token_answer_gives_the_same_caller(keys: Keys, exchange: Exchange) -> None:
    bearer = {"Authorization": f"Bearer {keys.token(sub=ALICE)}"}
    answer = keys.authorizer.authorize(
        rest_authorizer_event("GET", "/v1/orders", resource="/v1/orders", headers=bearer)
    )
    event = rest_proxy_event("GET", "/v1/orders", resource="/v1/orders", stage="prod")
    assert call(exchange, with_authorizer(event, answer)).status == 200
    expired = dict(event, requestContext=dict(event["requestContext"]))
    expired["requestContext"]["requestTimeEpoch"] = (
        int(answer["context"]["expires_at"]) + 1
    ) * 1000
    reply = call(exchange, with_authorizer(expired, answer))
    assert (reply.status, reply.body["code"]) == (401, "unauthorized")


def test_a_key_answer_on_a_key_management_route_is_a_403(keys: Keys) -> None:
    # Given a (misconfigured) route that passes a key's answer to the api_keys function
    created = keys.create(
        ["read", "trade", "withdraw"],
        account_id=ALICE,
        allowed_ips=[f"{KEY_ADDRESS}/32", "127.0.0.1/32"],
    )
    signed = sign(created, "GET", "/v1/orders")
    answer = keys.authorizer.authorize(signed.authorizer_event())
    answer["context"]["signed_request"] = "GET /v1/api-keys?"
    request = rest_proxy_event(
        "GET",
        "/v1/api-keys",
        resource="/v1/api-keys",
        stage="prod",
        headers=[("Authorization", signed.authorization)],
    )
    request["requestContext"]["requestTimeEpoch"] = START_MS
    event = with_authorizer(request, answer)
    reply = Reply.of(api_keys_handler(event, LambdaContextStub(), keys=keys.service))
    assert (reply.status, reply.body["code"]) == (403, "forbidden")
