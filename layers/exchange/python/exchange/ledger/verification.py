"""KYC decisions: the KYC provider's signed webhook and the operator's override, each recorded
with who made it (``ledger.kyc_events``), applied under the account's row lock.

Which decision stands (``supersedes``), so an override and a webhook cannot race badly:

- an operator's decision always applies, and stands against every provider verdict, except that an
  operator's PENDING hands the account back to the provider (for verdicts signed after it);
- a provider's verdict (VERIFIED or REJECTED) applies unless the account is SUSPENDED, or an
  operator decided its status, or it was signed before the decision in force (webhooks may arrive
  out of order; at the same second, REJECTED wins);
- a provider event id is processed once: a replay is a ``DUPLICATE`` and writes nothing.

The webhook is signed as the deposits webhook is (``ledger.webhooks``: ``Exchange-Signature:
t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>``), with its own secret. Its body:
``{"event_id", "type": "kyc.verified" | "kyc.rejected", "account_id", "reason"?}``.

>>> from exchange.ledger.webhooks import sign
>>> body = b'{"event_id": "kyc-1", "type": "kyc.verified", "account_id": "a-1"}'
>>> header = sign(body, secret=b"kycsec", timestamp=1_700_000_000)
>>> verify_kyc_webhook(body, header, secrets=[b"kycsec"], now=1_700_000_010).status
<KycStatus.VERIFIED: 'VERIFIED'>
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from exchange.aws import CachedSecret, secrets_client_factory
from exchange.domain.errors import ConfigurationError
from exchange.ledger.deposits import SecretsProvider, parse_secrets
from exchange.ledger.errors import InvalidWebhook
from exchange.ledger.model import KycStatus
from exchange.ledger.webhooks import DEFAULT_TOLERANCE_SECONDS, verify_signature
from exchange.settings import KycSettings

PROVIDER_ACTOR: Final = "kyc-provider"
MAX_ID: Final = 128
MAX_REASON: Final = 1000
_VERDICTS: Final = {"kyc.verified": KycStatus.VERIFIED, "kyc.rejected": KycStatus.REJECTED}


class KycSource(StrEnum):
    PROVIDER = "PROVIDER"  # the KYC provider's signed webhook
    OPERATOR = "OPERATOR"  # an operator's override (python -m exchange.ledger.kyc)


@dataclass(frozen=True, slots=True)
class KycState:
    """An account's KYC status in force, who decided it (None: nobody yet) and when (the
    provider's signing time, or the operator's decision time, in unix seconds)."""

    status: KycStatus
    decided_by: KycSource | None = None
    decided_at: int | None = None


@dataclass(frozen=True, slots=True)
class KycDecision:
    account_id: str
    status: KycStatus
    source: KycSource
    actor: str  # who: the provider, or the operator's name
    decided_at: int  # unix seconds: the webhook's signed timestamp, or when the operator decided
    reason: str | None = None
    event_id: str | None = None  # the provider's event id (its idempotency key)


class KycResult(StrEnum):
    APPLIED = "APPLIED"  # the account's status is the decision's now
    SUPERSEDED = "SUPERSEDED"  # recorded, but another decision stands (see ``supersedes``)
    DUPLICATE = "DUPLICATE"  # this provider event was processed before: nothing written


@dataclass(frozen=True, slots=True)
class KycOutcome:
    account_id: str
    result: KycResult
    kyc_status: KycStatus  # in force afterwards


def supersedes(decision: KycDecision, current: KycState) -> bool:
    """Whether ``decision`` replaces the status in force (the rules above)."""
    if decision.source is KycSource.OPERATOR:
        return True
    if current.status is KycStatus.SUSPENDED:
        return False
    if current.decided_by is KycSource.OPERATOR and current.status is not KycStatus.PENDING:
        return False
    if current.decided_at is None or decision.decided_at > current.decided_at:
        return True
    return decision.decided_at == current.decided_at and decision.status is KycStatus.REJECTED


class KycRegistry(ABC):
    @abstractmethod
    def decide(self, decision: KycDecision) -> KycOutcome:
        """Record ``decision`` and apply it if it supersedes the status in force, in one
        transaction under the account's row lock. UnknownAccount (nothing written) when there
        is no such user account."""


def _text(raw: dict[str, object], name: str, limit: int) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidWebhook(f"webhook body needs {name}: a string of 1 to {limit} characters")
    return value


def parse_kyc_webhook(body: bytes, *, signed_at: int) -> KycDecision:
    """The provider's verdict in a verified body; InvalidWebhook (400) when malformed. Other
    fields are ignored, as a provider may add some."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidWebhook(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidWebhook("webhook body must be a JSON object")
    status = _VERDICTS.get(_text(raw, "type", 32))
    if status is None:
        raise InvalidWebhook(f"unknown webhook type {raw['type']!r}; kyc.verified or kyc.rejected")
    reason = raw.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise InvalidWebhook(f"reason must be a string of at most {MAX_REASON} characters")
    return KycDecision(
        account_id=_text(raw, "account_id", MAX_ID),
        status=status,
        source=KycSource.PROVIDER,
        actor=PROVIDER_ACTOR,
        decided_at=signed_at,
        reason=reason or None,
        event_id=_text(raw, "event_id", MAX_ID),
    )


def verify_kyc_webhook(
    body: bytes,
    header: str | None,
    *,
    secrets: Sequence[bytes],
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> KycDecision:
    """Authenticate a raw webhook body, then read it: InvalidSignature or StaleWebhook (401),
    InvalidWebhook (400). An unauthenticated body is never parsed."""
    signed_at = verify_signature(
        body, header, secrets=secrets, now=now, tolerance_seconds=tolerance_seconds
    )
    return parse_kyc_webhook(body, signed_at=signed_at)


class KycWebhookReceiver:
    """The KYC webhook's logic: verify, then decide once per event id."""

    def __init__(
        self,
        *,
        registry: KycRegistry,
        secrets: SecretsProvider,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    ) -> None:
        self._registry = registry
        self._secrets = secrets
        self._tolerance = tolerance_seconds

    def receive(self, body: bytes, signature: str | None, *, now: int) -> KycOutcome:
        decision = verify_kyc_webhook(
            body, signature, secrets=self._secrets(), now=now, tolerance_seconds=self._tolerance
        )
        return self._registry.decide(decision)


def kyc_webhook_secrets(settings: KycSettings) -> SecretsProvider:
    """The KYC provider's signing secrets: ``kyc_webhook_secret`` locally, else its Secrets
    Manager secret (cached, re-read every five minutes so a rotation reaches a warm container).
    One secret as text, or a JSON array of them while it rotates."""
    if settings.kyc_webhook_secret is not None:
        secrets = parse_secrets(settings.kyc_webhook_secret.get_secret_value())
        return lambda: secrets
    arn = settings.kyc_webhook_secret_arn
    if arn is None:
        raise ConfigurationError(
            "set EXCHANGE_KYC_WEBHOOK_SECRET_ARN, or EXCHANGE_KYC_WEBHOOK_SECRET locally"
        )
    return CachedSecret(arn, secrets_client_factory(settings), parse=parse_secrets)
