"""Payment-provider deposit webhooks: HMAC-SHA256 over the raw body, with a signed timestamp.

The provider sends the header ``Exchange-Signature: t=<unix seconds>,v1=<hex digest>`` where the
digest is ``HMAC-SHA256(secret, f"{t}.".encode() + raw_body)``. Several ``v1`` values may appear
while a secret rotates; any one matching a current secret is enough. Order of checks: the
signature first (an unauthenticated body is never parsed), then the timestamp, then the body.
Replays inside the tolerance are caught by the ledger, which remembers each event id.

>>> body = b'{"event_id":"evt-1","type":"deposit.succeeded","deposit_id":"dep-1",' \\
...        b'"account_id":"a-1","asset":"USD","amount":"25.00"}'
>>> header = sign(body, secret=b"whsec", timestamp=1_700_000_000)
>>> verify_deposit_webhook(body, header, secrets=[b"whsec"], now=1_700_000_030).amount
Decimal('25.00')
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Literal

from exchange.domain.errors import InvalidNumber
from exchange.domain.numbers import parse_decimal
from exchange.ledger.errors import InvalidSignature, InvalidWebhook, StaleWebhook
from exchange.ledger.model import DepositNotice

SIGNATURE_HEADER = "Exchange-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
_MAX_HEADER = 1024
_DIGEST_HEX_LEN = 64


def sign(body: bytes, *, secret: bytes, timestamp: int) -> str:
    """The header value a provider sends (used by tests, the local stack and the bench)."""
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


def _digest(body: bytes, secret: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def parse_signature_header(header: str | None) -> tuple[int, list[str]]:
    """The timestamp and candidate digests of a header; InvalidSignature when malformed."""
    if not header or len(header) > _MAX_HEADER:
        raise InvalidSignature("missing or oversized signature header")
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and len(value) == _DIGEST_HEX_LEN:
            digests.append(value.lower())
    if timestamp is None or not digests:
        raise InvalidSignature("signature header needs t=<unix seconds> and v1=<sha256 hex>")
    return timestamp, digests


def verify_signature(
    body: bytes,
    header: str | None,
    *,
    secrets: Sequence[bytes],
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check the signature, then the timestamp; returns the signed timestamp."""
    timestamp, digests = parse_signature_header(header)
    expected = [_digest(body, secret, timestamp) for secret in secrets]
    # compare_digest on every pair: timing does not reveal which candidate (if any) was close.
    matched = [hmac.compare_digest(e, d) for e in expected for d in digests]
    if not any(matched):
        raise InvalidSignature("webhook signature does not match the body")
    if abs(now - timestamp) > tolerance_seconds:
        raise StaleWebhook(
            f"webhook signed at {timestamp}, {abs(now - timestamp)} s from now; "
            f"tolerance is {tolerance_seconds} s"
        )
    return timestamp


_STATUS_BY_TYPE: dict[str, Literal["CREDITED", "FAILED"]] = {
    "deposit.succeeded": "CREDITED",
    "deposit.failed": "FAILED",
}


def parse_deposit(body: bytes, *, signed_at: int) -> DepositNotice:
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidWebhook(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidWebhook("webhook body must be a JSON object")
    fields = ("event_id", "type", "deposit_id", "account_id", "asset", "amount")
    missing = [f for f in fields if not isinstance(raw.get(f), str) or not raw[f]]
    if missing:
        raise InvalidWebhook(f"webhook body needs string fields: {', '.join(missing)}")
    status = _STATUS_BY_TYPE.get(raw["type"])
    if status is None:
        raise InvalidWebhook(f"unknown webhook type {raw['type']!r}")
    try:
        amount = parse_decimal(raw["amount"], what="amount")
    except InvalidNumber as exc:
        raise InvalidWebhook(str(exc)) from exc
    return DepositNotice(
        event_id=raw["event_id"],
        deposit_id=raw["deposit_id"],
        account_id=raw["account_id"],
        asset=raw["asset"],
        amount=amount,
        status=status,
        signed_at=signed_at,
    )


def verify_deposit_webhook(
    body: bytes,
    header: str | None,
    *,
    secrets: Sequence[bytes],
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> DepositNotice:
    """Authenticate a raw webhook body and read its deposit notice.

    Raises InvalidSignature (401), StaleWebhook (401) or InvalidWebhook (400).
    """
    signed_at = verify_signature(
        body, header, secrets=secrets, now=now, tolerance_seconds=tolerance_seconds
    )
    return parse_deposit(body, signed_at=signed_at)
