"""What the exchange talks to beyond its own functions, locally: the payment provider that sends
payouts (a fake one, ``local.provider``), SNS and SES for the notifications (moto's, provisioned
from the template: ``local.notify``), and Kinesis Data Firehose, which archives the journal to S3
as Parquet (a poller writing the same layout under a local directory: ``local.archive``).

The stack (``local.stack``) provisions these after the queues, starts the provider before the
Lambdas get their environments (the payout worker's ``payout_provider_url`` is the provider's) and
the archive poller with the journal's pollers, and stops them in reverse.
"""

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from exchange.notifications.publisher import SnsNoticePublisher
from local.archive import ArchivePoller
from local.aws import AwsResources, MotoServer, client
from local.mailbox import Mailbox
from local.notify import TOPIC_VARIABLE, LocalTopic, provision_email, provision_topics, topic_names
from local.provider import FakePayoutProvider
from local.sqs import LocalQueue
from local.template import Deployment

# The path of the provider's webhook on the gateway: the deposits function serves it.
PAYOUT_WEBHOOK_PATH: Final = "/v1/webhooks/payouts"
# Firehose's S3 prefix for the journal's events (``events/symbol=<S>/date=<D>/``), under the
# archive directory as under the archive bucket.
ARCHIVE_PREFIX: Final = "events"


class Outside:
    """The provider, the topics and email, the archive: made, started and stopped together."""

    def __init__(self, *, archive_dir: Path, provider_delay_s: float = 0.5) -> None:
        self.archive_dir = archive_dir
        self.provider_delay_s = provider_delay_s
        self.topics: dict[str, LocalTopic] = {}
        self.email: dict[str, dict[str, str]] = {}  # configuration sets' stand-ins
        self.provider: FakePayoutProvider | None = None
        self.archive: ArchivePoller | None = None

    def provision(
        self, endpoint_url: str, deployment: Deployment, queues: Mapping[str, LocalQueue]
    ) -> None:
        """The template's SNS topics (subscribed by their queues) and SES identities and
        configuration sets, in moto."""
        self.topics = provision_topics(
            client("sns", endpoint_url),
            deployment.topics,
            deployment.subscriptions,
            queues,
            topic_names(deployment.functions),
        )
        self.email = provision_email(client("sesv2", endpoint_url), deployment.email)

    @property
    def stand_ins(self) -> dict[str, dict[str, str]]:
        """What the template's ``Ref``/``Fn::GetAtt`` of the topics and configuration sets are
        locally (``local.environment``)."""
        return {**{k: t.attributes for k, t in self.topics.items()}, **self.email}

    def tell_password_changes(
        self, mailbox: Mailbox, aws: AwsResources, environments: Mapping[str, Mapping[str, str]]
    ) -> None:
        """Cognito has no trigger for a password change (AWS learns of it from CloudTrail), so
        the mailbox, which sees the Cognito calls, publishes each ``password.changed`` notice to
        the notifications topic the functions publish to (``local.mailbox``)."""
        topics = {env[TOPIC_VARIABLE] for env in environments.values() if TOPIC_VARIABLE in env}
        if len(topics) != 1:
            return  # no topic deployed (or several: none is "the" notifications topic)
        endpoint = aws.endpoint_url
        publisher = SnsNoticePublisher(topics.pop(), lambda: client("sns", endpoint))
        mailbox.notify_password_changes(
            publisher, client("cognito-idp", endpoint), aws.user_pool_id
        )

    def start_provider(self, gateway_url: str, aws: AwsResources) -> Callable[[], None]:
        """The fake payment provider on a free port: it checks our requests with the provider's
        API secret and posts its signed webhooks to the gateway with the webhook secret the
        deposits function verifies with. Returns its stopper."""
        self.provider = FakePayoutProvider(
            host="127.0.0.1",
            port=0,
            webhook_url=gateway_url + PAYOUT_WEBHOOK_PATH,
            webhook_secret=aws.webhook_secret.encode(),
            api_secret=aws.payout_provider_secret.encode(),
            delay_s=self.provider_delay_s,
        )
        self.provider.start()
        return self._stop_provider

    def _stop_provider(self) -> None:
        if self.provider is not None:
            self.provider.stop()
            self.provider = None

    @property
    def provider_url(self) -> str | None:
        return None if self.provider is None else str(self.provider.url)

    def start_archive(self, aws: AwsResources, moto: MotoServer | None) -> Callable[[], None]:
        """The archive poller: the journal, read from its own iterators as Firehose reads it,
        written as Parquet under ``archive_dir/events``, which starts empty (each run's journal
        starts its sequence numbers again, so one run's archive must not mix with another's).
        Returns its stopper (which flushes what it holds)."""
        shutil.rmtree(self.archive_dir / ARCHIVE_PREFIX, ignore_errors=True)
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        self.archive = ArchivePoller(
            client("kinesis", aws.endpoint_url), aws.journal_stream, self.archive_dir
        )
        if moto is not None:  # it wakes on every journal write, as the stream pollers do
            moto.on_stream_write(self.archive.wake)
        self.archive.start()
        return self._stop_archive

    def _stop_archive(self) -> None:
        if self.archive is not None:
            self.archive.stop()
            self.archive = None

    def flush_archive(self) -> Mapping[str, Any]:
        """Read the journal up to now and write it all (``POST /_local/archive/flush``): what the
        stream held when called is then on disk."""
        if self.archive is None:
            raise KeyError("archive")
        self.archive.drain()
        return dict(self.status()["archive"])

    def status(self) -> dict[str, Any]:
        provider = None if self.provider is None else self.provider.status()
        archive = None if self.archive is None else self.archive.status()
        return {
            "provider": {"url": self.provider_url, "status": provider},
            "archive": {"dir": str(self.archive_dir), "status": archive},
            "topics": {logical: topic.arn for logical, topic in self.topics.items()},
        }
