"""Publishing notices to the notifications topic (SNS), for the relay, the notifier and the API
keys' service.

The message is the ``Notice``'s JSON, as is: the topic's SQS subscription delivers it raw
(``RawMessageDelivery``), so the emailer's SQS body is exactly these bytes. Two message
attributes, ``kind`` and ``event`` (type ``String``), let a subscription filter without reading
the body. SNS delivers at least once and a publisher may publish one notice twice (a relay that
crashed before marking it): the emailer sends each ``notice_id`` once.

>>> from exchange.notices import NoticeKind
>>> fake = InMemoryNoticePublisher()
>>> fake.publish(Notice(notice_id="ledger#1", kind=NoticeKind.DEPOSIT, event="deposit.credited",
...                     account_id="a-1", at_ns=1))
>>> [n.notice_id for n in fake.published]
['ledger#1']
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from exchange.aws import aws_client
from exchange.domain.errors import ExchangeError
from exchange.notices import Notice
from exchange.settings import NotificationsTopicSettings


class NoticeNotPublished(ExchangeError):
    """The topic did not take the notice (throttled, unreachable, refused)."""

    code = "notice_not_published"


class NoticePublisher(ABC):
    @abstractmethod
    def publish(self, notice: Notice) -> None:
        """Publish one notice; NoticeNotPublished when the topic did not take it."""


def message_attributes(notice: Notice) -> dict[str, dict[str, str]]:
    """SNS ``MessageAttributes`` of a notice: its kind and event, as ``String`` attributes.

    >>> from exchange.notices import NoticeKind
    >>> message_attributes(Notice(notice_id="x", kind=NoticeKind.FILL, event="fill",
    ...                           account_id="a", at_ns=0))["kind"]
    {'DataType': 'String', 'StringValue': 'FILL'}
    """
    return {
        "kind": {"DataType": "String", "StringValue": notice.kind.value},
        "event": {"DataType": "String", "StringValue": notice.event},
    }


class SnsNoticePublisher(NoticePublisher):
    """``sns:Publish`` to the topic; the client is built at the first publish."""

    def __init__(self, topic_arn: str, client: Callable[[], Any]) -> None:
        self._topic_arn = topic_arn
        self._client_factory = client
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: NotificationsTopicSettings) -> "SnsNoticePublisher":
        if not settings.notifications_topic_arn:
            raise ValueError("notifications_topic_arn is not set")
        return cls(settings.notifications_topic_arn, lambda: aws_client("sns", settings))

    def publish(self, notice: Notice) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if self._client is None:
            self._client = self._client_factory()
        try:
            self._client.publish(
                TopicArn=self._topic_arn,
                Message=notice.encode().decode(),
                MessageAttributes=message_attributes(notice),
            )
        except (BotoCoreError, ClientError) as exc:
            raise NoticeNotPublished(f"{notice.notice_id}: {exc}") from exc


class InMemoryNoticePublisher(NoticePublisher):
    """Unit tests' publisher: keeps what it was given; ``fail`` makes it refuse (``fail_after``:
    after that many have been taken)."""

    def __init__(self) -> None:
        self.published: list[Notice] = []
        self.fail = False
        self.fail_after: int | None = None

    def publish(self, notice: Notice) -> None:
        if self.fail or (self.fail_after is not None and len(self.published) >= self.fail_after):
            raise NoticeNotPublished(f"{notice.notice_id}: refused (test)")
        self.published.append(notice)


def notice_publisher(settings: NotificationsTopicSettings) -> NoticePublisher | None:
    """The topic's publisher, or None when ``notifications_topic_arn`` is unset (a deployment or
    a test without notifications: nothing is published)."""
    if not settings.notifications_topic_arn:
        return None
    return SnsNoticePublisher.from_settings(settings)
