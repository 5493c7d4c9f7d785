"""Each API key's own rate limit: a fixed one-second window counted in DynamoDB.

One ``UpdateItem`` per request on the item ``<key id>#<window start, unix s>`` of the
``rate_limits`` table: ``ADD hits :1`` under ``attribute_not_exists(hits) OR hits < :limit``, so
the count and the check are one atomic write, shared by every Lambda container (an in-memory
count per container would multiply the limit by the containers). A refused condition means the
window is full: the caller may retry when it ends (``Retry-After``, whole seconds, at least 1).
Items expire by TTL a minute after their window; DynamoDB deletes them some time later, which
costs nothing since a past window is never read again.

The same table holds each signature of a request that changes something (POST, PATCH, DELETE):
``once#<key id>#<signature>``, written once with a conditional ``PutItem`` and kept until the
signature's window has passed, so a captured request cannot be replayed within its window (with
a new ``Idempotency-Key`` it would otherwise make a second order or withdrawal; API Gateway
would even serve it the cached answer of its authorizer).

The limit is checked in the shared REST layer (``exchange.http.admission``) for requests signed
with a key, before the route runs. A fixed window lets a key send up to twice its limit across a
window's edge; the stage's throttling and the WAF's per-address rule bound the rest.

>>> bucket("ak_1", 1_700_000_000_250)
'ak_1#1700000000'
>>> retry_after_seconds(1_700_000_000_250)
1
"""

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from pynamodb.exceptions import PynamoDBException

from exchange.orders.errors import StoreUnavailable
from exchange.tables import RateLimitRecord, condition_failed
from exchange.tables.base import _Meta

WINDOW_MS: Final = 1_000
# Counters outlive their window by this much before TTL may remove them.
TTL_AFTER_WINDOW_S: Final = 60


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0  # when refused: seconds until the window ends (>= 1)


@runtime_checkable
class RateLimiter(Protocol):
    def hit(self, key_id: str, limit: int, now_ms: int) -> Verdict:
        """Count one request of ``key_id`` in the window of ``now_ms``, unless ``limit`` are
        counted already. StoreUnavailable when the counter cannot be reached."""
        ...

    def claim_once(self, key_id: str, signature: str, valid_until_ms: int) -> bool:
        """Record that ``signature`` of ``key_id`` was used; False when it was already (a
        replay). Kept until its window ends (``valid_until_ms``), after which the signature is
        refused as stale anyway. StoreUnavailable when the table cannot be reached."""
        ...


def once_item(key_id: str, signature: str) -> str:
    return f"once#{key_id}#{signature}"


def window_start_ms(now_ms: int) -> int:
    return now_ms - now_ms % WINDOW_MS


def bucket(key_id: str, now_ms: int) -> str:
    return f"{key_id}#{window_start_ms(now_ms) // 1000}"


def retry_after_seconds(now_ms: int) -> int:
    remaining_ms = window_start_ms(now_ms) + WINDOW_MS - now_ms
    return max(1, math.ceil(remaining_ms / 1000))


class DynamoRateLimiter:
    """The counter on the ``rate_limits`` table, as ``bind_tables`` bound its model (the
    function's composition must have bound it: an unbound table is reported, not guessed)."""

    def hit(self, key_id: str, limit: int, now_ms: int) -> Verdict:
        if RateLimitRecord.Meta.table_name == _Meta.table_name:
            raise StoreUnavailable("the rate_limits table is not bound (bind_tables)")
        expires = (window_start_ms(now_ms) + WINDOW_MS) // 1000 + TTL_AFTER_WINDOW_S
        counter = RateLimitRecord(bucket(key_id, now_ms))
        try:
            counter.update(
                actions=[
                    RateLimitRecord.hits.add(1),
                    RateLimitRecord.expires_at.set(dt.datetime.fromtimestamp(expires, tz=dt.UTC)),
                ],
                condition=RateLimitRecord.hits.does_not_exist() | (RateLimitRecord.hits < limit),
            )
        except PynamoDBException as exc:
            if condition_failed(exc):
                return Verdict(allowed=False, retry_after_s=retry_after_seconds(now_ms))
            raise StoreUnavailable(f"rate limit of {key_id}: {exc}") from exc
        return Verdict(allowed=True)

    def claim_once(self, key_id: str, signature: str, valid_until_ms: int) -> bool:
        """One conditional ``PutItem`` (``attribute_not_exists``): of two requests with the same
        signature, exactly one writes the item ("Condition expressions", DynamoDB)."""
        if RateLimitRecord.Meta.table_name == _Meta.table_name:
            raise StoreUnavailable("the rate_limits table is not bound (bind_tables)")
        expires = valid_until_ms // 1000 + TTL_AFTER_WINDOW_S
        item = RateLimitRecord(
            once_item(key_id, signature),
            hits=1,
            expires_at=dt.datetime.fromtimestamp(expires, tz=dt.UTC),
        )
        try:
            item.save(condition=RateLimitRecord.bucket.does_not_exist())
        except PynamoDBException as exc:
            if condition_failed(exc):
                return False
            raise StoreUnavailable(f"one-time use of {key_id}'s signature: {exc}") from exc
        return True
