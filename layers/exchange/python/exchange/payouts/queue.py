"""The payout queue: withdrawals waiting for the payout worker (``exchange.payouts.worker``).

The account function sends a new withdrawal's id once the ledger holds its funds, and the sweeper
(``exchange.payouts.sweeper``) sends a stuck one again. The message body is
``{"withdrawal_id": "<id>"}`` and nothing more: the worker reads the rest from the ledger when it
claims the payout, so a message sent twice (a retry, the sweeper) sends nothing twice.

A send that fails raises ``PayoutQueueUnavailable``; the withdrawal is still held and PENDING in
the ledger, and the sweeper finds it once it is older than ``payout_stuck_seconds``.

>>> queue = InMemoryPayoutQueue()
>>> queue.send("wd-1")
>>> queue.sent
['wd-1']
>>> decode_message('{"withdrawal_id": "wd-1"}')
'wd-1'
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Final, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from exchange.aws import aws_client
from exchange.domain.errors import ConfigurationError, ExchangeError
from exchange.settings import PayoutQueueSettings

# The account function answers a user while it sends: fail fast rather than hang (the sweeper
# catches a withdrawal whose message was lost).
_SQS_CONFIG: Final = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2})
_MAX_ID: Final = 128


class PayoutQueueUnavailable(ExchangeError):
    """The payout queue did not take the message (the sweeper sends the withdrawal later)."""

    code = "payout_queue_unavailable"


class InvalidPayoutMessage(ExchangeError):
    """A payout queue message whose body is not ``{"withdrawal_id": "<id>"}``."""

    code = "invalid_payout_message"


def encode_message(withdrawal_id: str) -> str:
    return json.dumps({"withdrawal_id": withdrawal_id}, separators=(",", ":"))


def decode_message(body: str) -> str:
    """The withdrawal id of a message body; InvalidPayoutMessage otherwise."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidPayoutMessage(f"payout message is not JSON: {exc}") from exc
    withdrawal_id = raw.get("withdrawal_id") if isinstance(raw, dict) else None
    if not isinstance(withdrawal_id, str) or not 0 < len(withdrawal_id) <= _MAX_ID:
        raise InvalidPayoutMessage('payout message must be {"withdrawal_id": "<id>"}')
    return withdrawal_id


class PayoutQueue(ABC):
    @abstractmethod
    def send(self, withdrawal_id: str) -> None:
        """Queue one withdrawal for the payout worker; PayoutQueueUnavailable on failure."""


class SqsClient(Protocol):
    def send_message(self, **kwargs: Any) -> dict[str, Any]: ...


class SqsPayoutQueue(PayoutQueue):
    """``SendMessage`` to the payout queue (a standard queue: the worker's claim makes a
    duplicate delivery harmless, so FIFO's exactly-once is not needed)."""

    def __init__(self, queue_url: str, client: Callable[[], SqsClient]) -> None:
        self._queue_url = queue_url
        self._client_factory = client
        self._client: SqsClient | None = None

    @classmethod
    def from_settings(cls, settings: PayoutQueueSettings) -> "SqsPayoutQueue":
        if not settings.payout_queue_url:
            raise ConfigurationError("set EXCHANGE_PAYOUT_QUEUE_URL")

        def build() -> SqsClient:
            client: SqsClient = aws_client("sqs", settings, config=_SQS_CONFIG)
            return client

        return cls(settings.payout_queue_url, build)

    def send(self, withdrawal_id: str) -> None:
        if self._client is None:
            self._client = self._client_factory()
        try:
            self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=encode_message(withdrawal_id)
            )
        except (BotoCoreError, ClientError) as exc:
            raise PayoutQueueUnavailable(
                f"withdrawal {withdrawal_id} was not queued for payout (the sweeper will): {exc}"
            ) from exc


class InMemoryPayoutQueue(PayoutQueue):
    """For unit tests: remembers what was sent; ``fail`` makes every send raise."""

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[str] = []
        self.fail = fail

    def send(self, withdrawal_id: str) -> None:
        if self.fail:
            raise PayoutQueueUnavailable(f"withdrawal {withdrawal_id} was not queued (test)")
        self.sent.append(withdrawal_id)


def payout_queue(settings: PayoutQueueSettings) -> PayoutQueue:
    """The queue the settings name (SQS; moto's locally). ConfigurationError when unset."""
    return SqsPayoutQueue.from_settings(settings)
