"""The provider's payout webhook: verify it, then finish the withdrawal exactly once.

``POST /v1/webhooks/payouts`` carries ``Exchange-Signature: t=<unix seconds>,v1=<hex>`` signed
with the provider's webhook secret (the deposits webhook's) over ``f"{t}." + raw body``, checked
as ``exchange.ledger.webhooks`` checks a deposit's: the signature first (an unauthenticated body is
never parsed), then the timestamp, then the body::

    {"event_id": "evt-1", "type": "payout.completed" | "payout.failed", "withdrawal_id": "wd-1",
     "provider_reference": "po_1", "asset": "USD", "amount": "25.00", "reason"?: "..."}

The ledger records the event id and the outcome in one transaction
(``WithdrawalsPort.record_payout_outcome``): a repeat of the event is answered ``DUPLICATE``, an
outcome that contradicts the withdrawal's (completed after failed, another amount) is refused, and
nothing is written either way.

>>> body = b'{"event_id":"evt-1","type":"payout.completed","withdrawal_id":"wd-1",' \\
...        b'"provider_reference":"po_1","asset":"USD","amount":"25.00"}'
>>> header = sign(body, secret=b"whsec", timestamp=1_700_000_000)
>>> notice = verify_payout_webhook(body, header, secrets=[b"whsec"], now=1_700_000_030)
>>> notice.status, notice.amount
('COMPLETED', Decimal('25.00'))
"""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from exchange.domain.errors import InvalidNumber
from exchange.domain.numbers import parse_decimal
from exchange.ledger.errors import InvalidTransition, InvalidWebhook, ReplayedWebhook
from exchange.ledger.model import Withdrawal
from exchange.ledger.payouts_port import PayoutNotice
from exchange.ledger.webhooks import DEFAULT_TOLERANCE_SECONDS, sign, verify_signature
from exchange.observability import logger, metrics

_STATUS_BY_TYPE: Final[dict[str, Literal["COMPLETED", "FAILED"]]] = {
    "payout.completed": "COMPLETED",
    "payout.failed": "FAILED",
}
_REQUIRED: Final = ("event_id", "type", "withdrawal_id", "provider_reference", "asset", "amount")
_MAX_FIELD: Final = 256
_MAX_REASON: Final = 500


def parse_payout(body: bytes, *, signed_at: int) -> PayoutNotice:
    """The notice in an authenticated body; InvalidWebhook when it is not one."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidWebhook(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidWebhook("webhook body must be a JSON object")
    missing = [
        f for f in _REQUIRED if not isinstance(raw.get(f), str) or not 0 < len(raw[f]) <= _MAX_FIELD
    ]
    if missing:
        raise InvalidWebhook(f"webhook body needs string fields: {', '.join(missing)}")
    status = _STATUS_BY_TYPE.get(raw["type"])
    if status is None:
        raise InvalidWebhook(f"unknown webhook type {raw['type']!r}")
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidWebhook("reason must be a string")
    try:
        amount = parse_decimal(raw["amount"], what="amount")
    except InvalidNumber as exc:
        raise InvalidWebhook(str(exc)) from exc
    if not amount.is_finite() or amount <= 0:
        raise InvalidWebhook(f"amount must be positive, was {raw['amount']!r}")
    return PayoutNotice(
        event_id=raw["event_id"],
        withdrawal_id=raw["withdrawal_id"],
        status=status,
        asset=raw["asset"],
        amount=amount,
        provider_reference=raw["provider_reference"],
        signed_at=signed_at,
        failure_reason=reason[:_MAX_REASON] if status == "FAILED" and reason else None,
    )


def verify_payout_webhook(
    body: bytes,
    header: str | None,
    *,
    secrets: Sequence[bytes],
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> PayoutNotice:
    """Authenticate a raw webhook body and read its payout notice.

    Raises InvalidSignature (401), StaleWebhook (401) or InvalidWebhook (400).
    """
    signed_at = verify_signature(
        body, header, secrets=secrets, now=now, tolerance_seconds=tolerance_seconds
    )
    return parse_payout(body, signed_at=signed_at)


def contradicted(notice: PayoutNotice, why: Exception) -> None:
    """The provider says what our books contradict: paid a withdrawal we failed (its hold
    released: the money may have left twice), failed one we completed, or paid another amount.
    Nothing is written (the 409 leaves the books as they are), so this error log and the metric
    ``PayoutsContradicted`` are all an operator gets: it is alarmed, and the provider's dashboard
    settles it."""
    metrics.add_metric(name="PayoutsContradicted", unit=MetricUnit.Count, value=1)
    logger.error(
        "the provider's payout outcome contradicts the ledger; an operator must reconcile it",
        extra={
            "withdrawal_id": notice.withdrawal_id,
            "event_id": notice.event_id,
            "provider_status": notice.status,
            "provider_reference": notice.provider_reference,
            "why": str(why),
        },
    )


class PayoutOutcomes(Protocol):
    """What the webhook needs of the ledger (``WithdrawalsPort.record_payout_outcome``)."""

    def record_payout_outcome(self, notice: PayoutNotice) -> Withdrawal: ...


@dataclass(frozen=True, slots=True)
class PayoutReceipt:
    status: Literal["COMPLETED", "FAILED", "DUPLICATE"]
    withdrawal_id: str | None = None


class PayoutWebhookReceiver:
    """Verify, then finish once. InvalidSignature and StaleWebhook (401), InvalidWebhook (400),
    UnknownWithdrawal (404) and InvalidTransition (409) leave nothing written: a provider's
    mistake is never answered with a 5xx, which it would retry forever."""

    def __init__(
        self,
        *,
        ledger: PayoutOutcomes,
        secrets: Callable[[], Sequence[bytes]],
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        pushed: Callable[[Iterable[str]], object] | None = None,
    ) -> None:
        self._ledger = ledger
        self._secrets = secrets
        self._tolerance = tolerance_seconds
        self._pushed = pushed  # the balances channel's push (never raises); None: no push

    def receive(self, body: bytes, signature: str | None, *, now: int) -> PayoutReceipt:
        notice = verify_payout_webhook(
            body, signature, secrets=self._secrets(), now=now, tolerance_seconds=self._tolerance
        )
        try:
            withdrawal = self._ledger.record_payout_outcome(notice)
        except ReplayedWebhook:
            return PayoutReceipt("DUPLICATE", notice.withdrawal_id)
        except (InvalidTransition, InvalidWebhook) as exc:
            contradicted(notice, exc)
            raise
        metrics.add_metric(name=f"Payouts{notice.status.title()}", unit=MetricUnit.Count, value=1)
        logger.info(
            "payout finished by the provider's webhook",
            extra={"withdrawal_id": withdrawal.withdrawal_id, "status": notice.status},
        )
        if self._pushed is not None:  # the hold was debited, or went back to available
            self._pushed([withdrawal.account_id])
        return PayoutReceipt(notice.status, withdrawal.withdrawal_id)


__all__ = [
    "PayoutReceipt",
    "PayoutWebhookReceiver",
    "contradicted",
    "parse_payout",
    "sign",
    "verify_payout_webhook",
]
