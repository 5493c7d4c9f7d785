"""The dead man's switch on AWS: its state in DynamoDB (the ``order_keys`` item with sk
``CANCEL_AFTER_KEY``, changed only by conditional writes) and its timers on SQS (a standard
queue's per-message ``DelaySeconds``, 0 to 900 seconds; a FIFO queue has no per-message delay).
"""

from collections.abc import Callable
from typing import Any, Final, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DeleteError, DoesNotExist, PynamoDBException, UpdateError

from exchange.aws import AwsLocation, aws_client
from exchange.observability import logger
from exchange.orders.cancel_after import Switch, SwitchStore, Timer, TimerQueue
from exchange.orders.errors import StoreUnavailable, TimerUnavailable
from exchange.tables import CANCEL_AFTER_KEY, OrderKeyRecord, condition_failed

# A condition can fail because the item moved between the write and the re-read (renewed,
# cleared): the write is tried again this many times.
_ATTEMPTS: Final = 3
# An API request waits on the send: fail fast and let the caller retry rather than hang.
_SQS_CONFIG: Final = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2})


class DynamoSwitchStore(SwitchStore):
    def get(self, account_id: str) -> Switch | None:
        try:
            row = OrderKeyRecord.get(account_id, CANCEL_AFTER_KEY, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreUnavailable(f"the dead man's switch could not be read: {exc}") from exc
        return Switch(deadline_ms=int(row.deadline_ms), timeout_seconds=int(row.timeout_seconds))

    def put(self, account_id: str, switch: Switch, *, now_ms: int) -> Switch | None:
        for _ in range(_ATTEMPTS):
            try:
                _item(account_id).update(
                    actions=[
                        OrderKeyRecord.deadline_ms.set(switch.deadline_ms),
                        OrderKeyRecord.timeout_seconds.set(switch.timeout_seconds),
                    ],
                    condition=OrderKeyRecord.deadline_ms.does_not_exist()
                    | (OrderKeyRecord.deadline_ms > now_ms),
                )
                return None
            except UpdateError as exc:
                if not condition_failed(exc):
                    raise StoreUnavailable(f"the dead man's switch was not set: {exc}") from exc
            expired = self._expired(account_id, now_ms)
            if expired is not None:
                return expired
        raise StoreUnavailable("the dead man's switch kept changing while it was being set")

    def remove(self, account_id: str, *, now_ms: int) -> Switch | None:
        for _ in range(_ATTEMPTS):
            try:
                _item(account_id).delete(
                    condition=OrderKeyRecord.deadline_ms.does_not_exist()
                    | (OrderKeyRecord.deadline_ms > now_ms)
                )
                return None
            except DeleteError as exc:
                if not condition_failed(exc):
                    raise StoreUnavailable(f"the dead man's switch was not removed: {exc}") from exc
            expired = self._expired(account_id, now_ms)
            if expired is not None:
                return expired
        raise StoreUnavailable("the dead man's switch kept changing while it was being removed")

    def clear(self, account_id: str, deadline_ms: int) -> bool:
        try:
            _item(account_id).delete(condition=OrderKeyRecord.deadline_ms == deadline_ms)
        except DeleteError as exc:
            if condition_failed(exc):
                return False
            raise StoreUnavailable(f"the dead man's switch was not cleared: {exc}") from exc
        return True

    def _expired(self, account_id: str, now_ms: int) -> Switch | None:
        current = self.get(account_id)
        return current if current is not None and current.deadline_ms <= now_ms else None


def _item(account_id: str) -> OrderKeyRecord:
    return OrderKeyRecord(account_id, CANCEL_AFTER_KEY)


class SqsClient(Protocol):
    def send_message(self, **kwargs: Any) -> dict[str, Any]: ...


class SqsTimerQueue(TimerQueue):
    """``SendMessage`` with ``DelaySeconds`` = the timeout; the body is ``Timer.encode()``."""

    def __init__(self, queue_url: str, client: Callable[[], SqsClient]) -> None:
        self._queue_url = queue_url
        self._client_factory = client
        self._client: SqsClient | None = None

    @classmethod
    def from_settings(cls, queue_url: str, location: AwsLocation) -> "SqsTimerQueue":
        def build() -> SqsClient:
            client: SqsClient = aws_client("sqs", location, config=_SQS_CONFIG)
            return client

        return cls(queue_url, build)

    def schedule(self, timer: Timer, delay_seconds: int) -> None:
        if self._client is None:
            self._client = self._client_factory()
        try:
            self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=timer.encode(), DelaySeconds=delay_seconds
            )
        except (BotoCoreError, ClientError) as exc:
            raise TimerUnavailable(
                f"the dead man's switch's timer could not be queued; nothing was armed: {exc}"
            ) from exc


# A timer that failed (the broker was down, it came early) is delivered again after this long,
# not after the queue's visibility timeout (six times the function's timeout: minutes).
RETRY_AFTER_SECONDS: Final = 2


class SqsRetryClient(Protocol):
    def get_queue_url(self, **kwargs: Any) -> dict[str, Any]: ...

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]: ...


class SoonRetry:
    """Makes failed timers visible again in ``RETRY_AFTER_SECONDS``.

    With ``ReportBatchItemFailures`` Lambda leaves a reported message in the queue, and SQS
    delivers it again only when its visibility timeout runs out ("Handling errors for an SQS
    event source in Lambda"); the queue's is 360 s, so a switch whose cancels met a broker blip
    would wait six minutes. ``ChangeMessageVisibility`` on a received message sets its timeout
    from now ("ChangeMessageVisibility", Amazon SQS API reference), so it comes back in seconds,
    still counted against the queue's maxReceiveCount. The queue's URL follows from the records'
    ``eventSourceARN`` (``GetQueueUrl``, which the mapping's consume grant includes). Best effort:
    if this fails the timer still comes back, later.
    """

    def __init__(self, client: Callable[[], SqsRetryClient]) -> None:
        self._client_factory = client
        self._client: SqsRetryClient | None = None
        self._urls: dict[str, str] = {}

    @classmethod
    def from_settings(cls, location: AwsLocation) -> "SoonRetry":
        def build() -> SqsRetryClient:
            client: SqsRetryClient = aws_client("sqs", location, config=_SQS_CONFIG)
            return client

        return cls(build)

    def retry(self, records: list[dict[str, Any]], failed_ids: set[str]) -> int:
        """Shorten the visibility of the records in ``failed_ids``; how many were shortened."""
        by_queue: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            if record.get("messageId") in failed_ids:
                by_queue.setdefault(str(record["eventSourceARN"]), []).append(record)
        shortened = 0
        for arn, failed in by_queue.items():
            try:
                shortened += self._shorten(arn, failed)
            except (BotoCoreError, ClientError) as exc:
                logger.warning(
                    "failed timers keep the queue's visibility timeout",
                    extra={"queue": arn, "error": str(exc)},
                )
        return shortened

    def _shorten(self, arn: str, records: list[dict[str, Any]]) -> int:
        if self._client is None:
            self._client = self._client_factory()
        url = self._urls.get(arn)
        if url is None:
            # arn:aws:sqs:<region>:<account>:<name>
            _, _, _, _, account, name = arn.split(":", 5)
            url = self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                "QueueUrl"
            ]
            self._urls[arn] = url
        shortened = 0
        for start in range(0, len(records), 10):  # at most 10 entries per batch call
            chunk = records[start : start + 10]
            answer = self._client.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": r["receiptHandle"],
                        "VisibilityTimeout": RETRY_AFTER_SECONDS,
                    }
                    for i, r in enumerate(chunk)
                ],
            )
            shortened += len(answer.get("Successful", []))
        return shortened
