"""The deposit webhook's logic: the signing secrets, then ``accept_deposit_webhook``.

A provider retries what it did not see acknowledged, so an event that was already processed is
answered as a success (``DUPLICATE``) rather than an error: nothing is written twice either way.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from exchange.aws import CachedSecret, secrets_client_factory
from exchange.domain.errors import ConfigurationError
from exchange.ledger.errors import ReplayedWebhook
from exchange.ledger.port import LedgerPort, accept_deposit_webhook
from exchange.ledger.webhooks import DEFAULT_TOLERANCE_SECONDS
from exchange.settings import DepositsSettings

SecretsProvider = Callable[[], Sequence[bytes]]


@dataclass(frozen=True, slots=True)
class DepositReceipt:
    status: Literal["CREDITED", "FAILED", "DUPLICATE"]
    deposit_id: str | None = None


def parse_secrets(value: str) -> list[bytes]:
    """Signing secrets from a setting or a Secrets Manager value: one secret as plain text, or a
    JSON array of them while a secret rotates (any one of them verifies).

    >>> parse_secrets('["new", "old"]')
    [b'new', b'old']
    """
    text = value.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError("webhook secret is not a JSON array of strings") from exc
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise ConfigurationError("webhook secret is not a JSON array of strings")
        return [item.encode() for item in items]
    if not text:
        raise ConfigurationError("webhook secret is empty")
    return [text.encode()]


class DepositReceiver:
    def __init__(
        self,
        *,
        ledger: LedgerPort,
        secrets: SecretsProvider,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    ) -> None:
        self._ledger = ledger
        self._secrets = secrets
        self._tolerance = tolerance_seconds

    def receive(self, body: bytes, signature: str | None, *, now: int) -> DepositReceipt:
        """Verify, then credit once. InvalidSignature and StaleWebhook (401) and InvalidWebhook
        (400) leave nothing written."""
        try:
            deposit = accept_deposit_webhook(
                self._ledger,
                body,
                signature,
                secrets=self._secrets(),
                now=now,
                tolerance_seconds=self._tolerance,
            )
        except ReplayedWebhook:
            return DepositReceipt("DUPLICATE")
        return DepositReceipt(deposit.status, deposit.deposit_id)


def webhook_secrets(settings: DepositsSettings) -> SecretsProvider:
    """The signing secrets: ``webhook_secret`` locally, else the Secrets Manager secret (cached,
    re-read every five minutes so a rotation reaches a warm container)."""
    if settings.webhook_secret is not None:
        secrets = parse_secrets(settings.webhook_secret.get_secret_value())
        return lambda: secrets
    arn = settings.ledger_webhook_secret_arn
    if arn is None:
        raise ConfigurationError(
            "set EXCHANGE_LEDGER_WEBHOOK_SECRET_ARN, or EXCHANGE_WEBHOOK_SECRET locally"
        )
    return CachedSecret(arn, secrets_client_factory(settings), parse=parse_secrets)
