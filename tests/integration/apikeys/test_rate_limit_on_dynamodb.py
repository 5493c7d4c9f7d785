"""The per-key rate limit on moto's DynamoDB: the counter itself, and the orders handler answering
429 with ``Retry-After`` through the process's limiter (no handler composes it).

UpdateItem's ``ADD`` starts a missing number at 0 and the condition is evaluated against the item
before the update, atomically ("UpdateItem", Amazon DynamoDB API reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html: "If you use
ADD to increment or decrement a number value for an item that doesn't exist before the update,
DynamoDB uses 0 as the initial value"). TTL deletes expired items in the background, some time
after their time ("Using time to live (TTL) in DynamoDB"), so nothing may rely on their absence.
"""

import datetime as dt
from collections.abc import Iterator

import pytest

from exchange.apikeys.limiter import DynamoRateLimiter, bucket
from exchange.apikeys.model import KeySpec
from exchange.apikeys.service import ApiKeyService
from exchange.apikeys.verifier import KeyVerifier
from exchange.http.admission import use_rate_limiter
from exchange.tables import RateLimitRecord
from exchange.testing.apikeys import FakeCipher, InMemoryApiKeyStore, with_authorizer
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.orders.handler import handler as orders_handler
from tests.integration.apikeys.conftest import Aws
from tests.unit.api.conftest import ALICE, Reply, make_exchange
from tests.unit.apikeys.conftest import START_MS, Clock, Keys, sign

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def test_the_counter_refuses_past_the_limit_until_the_next_window(aws: Aws) -> None:
    limiter = DynamoRateLimiter()
    verdicts = [limiter.hit("ak_1", 3, START_MS + offset) for offset in (0, 10, 500, 999)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].retry_after_s == 1
    assert limiter.hit("ak_2", 3, START_MS + 999).allowed  # another key, its own counter
    assert limiter.hit("ak_1", 3, START_MS + 1_000).allowed  # the next window
    row = RateLimitRecord.get(bucket("ak_1", START_MS), consistent_read=True)
    assert row.hits == 3  # the refused request added nothing
    window_end = dt.datetime.fromtimestamp(START_MS // 1000 + 1, tz=dt.UTC)
    assert row.expires_at == window_end + dt.timedelta(seconds=60)


@pytest.fixture
def process_limiter() -> Iterator[None]:
    use_rate_limiter(None)  # the DynamoDB one, made at first use
    yield
    use_rate_limiter(None)


@pytest.mark.usefixtures("process_limiter")
def test_the_orders_handler_answers_429_then_serves_the_next_window(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    keys = Keys(clock=Clock(), store=InMemoryApiKeyStore(), cipher=FakeCipher())
    assert isinstance(keys.verifier, KeyVerifier)
    service = ApiKeyService(
        store=keys.store,
        cipher=keys.cipher,
        default_rate_limit=2,
        max_per_account=5,
        clock_ns=keys.clock.ns,
    )
    created = service.create(ALICE, None, KeySpec(label="bot", scopes=("read",)))
    exchange = make_exchange()

    def read_at(at_ms: int) -> Reply:
        keys.clock.now_ms = at_ms
        signed = sign(created, "GET", "/v1/orders", at_ms=at_ms)
        answer = keys.authorizer.authorize(signed.authorizer_event())
        event = with_authorizer(signed.proxy_event(received_ms=at_ms), answer)
        return Reply.of(orders_handler(event, LambdaContextStub(), orders=exchange.orders))

    assert [read_at(START_MS + t).status for t in (0, 300)] == [200, 200]
    limited = read_at(START_MS + 600)
    assert (limited.status, limited.body["code"]) == (429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    assert read_at(START_MS + 1_001).status == 200


def test_a_signature_is_claimed_once_and_kept_until_its_window_has_passed(aws: Aws) -> None:
    # A conditional PutItem (attribute_not_exists) succeeds for exactly one of two writers of
    # the same item ("Condition expressions", Amazon DynamoDB developer guide).
    limiter = DynamoRateLimiter()
    signature = "ab" * 32
    assert limiter.claim_once("ak_1", signature, START_MS + 5_000) is True
    assert limiter.claim_once("ak_1", signature, START_MS + 5_000) is False
    assert limiter.claim_once("ak_2", signature, START_MS + 5_000) is True  # another key
    row = RateLimitRecord.get(f"once#ak_1#{signature}", consistent_read=True)
    assert row.expires_at == dt.datetime.fromtimestamp(START_MS // 1000 + 5 + 60, tz=dt.UTC)
