"""Each key's rate limit in the shared REST layer (``serve``): 429 problem+json with
``Retry-After`` before the route runs, the next window open again, tokens never counted, and an
unreachable counter letting requests through (the decision in ``exchange.http.admission``)."""

from collections.abc import Iterator
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.apikeys.limiter import Verdict
from exchange.apikeys.model import CreatedKey
from exchange.http.admission import use_rate_limiter
from exchange.orders.errors import StoreUnavailable
from exchange.testing.apikeys import InMemoryRateLimiter, rest_authorizer_event, with_authorizer
from exchange.testing.lambda_events import LambdaContextStub, rest_proxy_event
from lambdas.orders.handler import handler as orders_handler
from tests.unit.api.conftest import ALICE, Exchange, Reply, make_exchange
from tests.unit.apikeys.conftest import START_MS, Keys, sign

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ORDER = b'{"symbol":"BTC-USD","side":"BUY","order_type":"LIMIT","qty":"0.5","price":"100"}'


@pytest.fixture
def limiter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryRateLimiter]:
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    limiter = InMemoryRateLimiter()
    use_rate_limiter(limiter)
    yield limiter
    use_rate_limiter(None)


@pytest.fixture
def exchange() -> Exchange:
    return make_exchange()


def request(keys: Keys, created: CreatedKey, at_ms: int, *, body: bytes = b"") -> dict[str, Any]:
    """A signed request received at ``at_ms``, with its authorizer's answer."""
    keys.clock.now_ms = at_ms
    method = "POST" if body else "GET"
    signed = sign(created, method, "/v1/orders", at_ms=at_ms, body=body)
    answer = keys.authorizer.authorize(signed.authorizer_event())
    return with_authorizer(signed.proxy_event(received_ms=at_ms), answer)


def call(exchange: Exchange, event: dict[str, Any]) -> Reply:
    return Reply.of(orders_handler(event, LambdaContextStub(), orders=exchange.orders))


@pytest.mark.usefixtures("limiter")
def test_past_its_limit_a_key_gets_429_with_retry_after_until_the_next_window(
    keys: Keys, exchange: Exchange
) -> None:
    created = keys.create(["read", "trade"], account_id=ALICE, rate_limit=2)
    # Given two requests in one second
    assert call(exchange, request(keys, created, START_MS + 100)).status == 200
    assert call(exchange, request(keys, created, START_MS + 200)).status == 200
    # When a third comes in the same second, an order no less
    limited = call(exchange, request(keys, created, START_MS + 900, body=ORDER))
    # Then it is refused before the route runs, and told when to retry
    assert (limited.status, limited.body["code"]) == (429, "rate_limited")
    assert limited.is_problem
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["X-Content-Type-Options"] == "nosniff"
    assert exchange.store.orders == {}
    # And in the next second it goes through
    placed = call(exchange, request(keys, created, START_MS + 1_000, body=ORDER))
    assert placed.status == 202


@pytest.mark.usefixtures("limiter")
def test_each_key_has_its_own_window(keys: Keys, exchange: Exchange) -> None:
    first = keys.create(["read"], account_id=ALICE, rate_limit=1)
    second = keys.create(["read"], account_id=ALICE, rate_limit=1)
    assert call(exchange, request(keys, first, START_MS)).status == 200
    assert call(exchange, request(keys, first, START_MS + 1)).status == 429
    assert call(exchange, request(keys, second, START_MS + 2)).status == 200


def test_token_callers_are_not_counted(
    keys: Keys, exchange: Exchange, limiter: InMemoryRateLimiter
) -> None:
    bearer = {"Authorization": f"Bearer {keys.token(sub=ALICE)}"}
    answer = keys.authorizer.authorize(
        rest_authorizer_event("GET", "/v1/orders", resource="/v1/orders", headers=bearer)
    )
    event = rest_proxy_event("GET", "/v1/orders", resource="/v1/orders", stage="prod")
    for _ in range(30):
        assert call(exchange, with_authorizer(event, answer)).status == 200
    assert limiter.hits == {}


class Unreachable:
    """The counter is down; the one-time-use record (a read here, so unused) is not."""

    def hit(self, key_id: str, limit: int, now_ms: int) -> Verdict:
        raise StoreUnavailable("rate_limits: connection refused")

    def claim_once(self, key_id: str, signature: str, valid_until_ms: int) -> bool:
        return True


def test_an_unreachable_counter_lets_signed_requests_through(
    keys: Keys, exchange: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    use_rate_limiter(Unreachable())
    try:
        created = keys.create(["read"], account_id=ALICE, rate_limit=1)
        for offset in range(3):
            assert call(exchange, request(keys, created, START_MS + offset)).status == 200
    finally:
        use_rate_limiter(None)


def test_a_limiter_given_to_serve_is_used_before_the_processs(
    keys: Keys, exchange: Exchange, limiter: InMemoryRateLimiter
) -> None:
    from exchange.http.app import serve  # noqa: PLC0415
    from lambdas.orders.handler import APP  # noqa: PLC0415

    own = InMemoryRateLimiter()
    created = keys.create(["read"], account_id=ALICE, rate_limit=1)
    event = request(keys, created, START_MS)
    context = cast("LambdaContext", LambdaContextStub())
    response = serve(APP, event, context, [exchange.orders, own], max_body_bytes=4096)
    assert response["statusCode"] == 200
    assert sum(own.hits.values()) == 1
    assert limiter.hits == {}


def test_an_unbound_counter_table_is_reported_not_called(monkeypatch: pytest.MonkeyPatch) -> None:
    # A function whose composition never bound the tables must not guess a table (or a region).
    from exchange.apikeys.limiter import DynamoRateLimiter  # noqa: PLC0415
    from exchange.tables import RateLimitRecord  # noqa: PLC0415

    monkeypatch.setattr(RateLimitRecord.Meta, "table_name", "unbound")
    with pytest.raises(StoreUnavailable, match="not bound"):
        DynamoRateLimiter().hit("ak_1", 5, START_MS)


def with_header(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    """``event`` with one more header (the signature does not cover it)."""
    event = dict(event)
    event["headers"] = {**(event.get("headers") or {}), name: value}
    event["multiValueHeaders"] = {**(event.get("multiValueHeaders") or {}), name: [value]}
    return event


@pytest.mark.usefixtures("limiter")
def test_a_signed_order_replayed_within_its_window_is_refused_whatever_its_idempotency_key(
    keys: Keys, exchange: Exchange
) -> None:
    created = keys.create(["read", "trade"], account_id=ALICE)
    # Given a signed order, captured on its way (API Gateway would answer its Authorization
    # header from the authorizer's cache, so the replays reach the handler as this one does)
    original = request(keys, created, START_MS + 100, body=ORDER)
    first = call(exchange, with_header(original, "Idempotency-Key", "k-original"))
    assert first.status == 202
    # When it is sent again within its window, with a fresh Idempotency-Key or with none
    for replay in (with_header(original, "Idempotency-Key", "k-attacker"), original):
        refused = call(exchange, replay)
        # Then each is refused as a replay, and only the first order exists
        assert (refused.status, refused.body["code"]) == (401, "unauthorized")
        assert "used already" in refused.body["detail"]
    assert len(exchange.store.orders) == 1


@pytest.mark.usefixtures("limiter")
def test_a_read_replayed_within_its_window_is_answered(keys: Keys, exchange: Exchange) -> None:
    # A GET changes nothing: its replay is not recorded (no write per read)
    created = keys.create(["read"], account_id=ALICE)
    read = request(keys, created, START_MS + 100)
    assert [call(exchange, read).status for _ in range(2)] == [200, 200]


def test_a_signed_write_is_refused_when_its_one_time_use_cannot_be_recorded(
    keys: Keys, exchange: Exchange
) -> None:
    class Unrecorded(InMemoryRateLimiter):
        def claim_once(self, key_id: str, signature: str, valid_until_ms: int) -> bool:
            raise StoreUnavailable("rate_limits: connection refused")

    use_rate_limiter(Unrecorded())
    try:
        created = keys.create(["read", "trade"], account_id=ALICE)
        refused = call(exchange, request(keys, created, START_MS + 100, body=ORDER))
    finally:
        use_rate_limiter(None)
    assert (refused.status, refused.body["code"]) == (503, "admission_unavailable")
    assert exchange.store.orders == {}
