"""The emailer's AWS adapters: its claims in the notifications table (DynamoDB, conditional
writes), the user directory (Cognito ``ListUsers`` by ``sub``) and SES (API v2 ``SendEmail``),
and the SQS batch that feeds it.

- Claims: ``attribute_not_exists(notice_id)`` (or a SENDING claim gone stale) is the condition of
  the put; a failed condition means another delivery has it. The item expires (TTL) after
  ``CLAIM_TTL_SECONDS``, long after SQS's longest retention (14 days) has passed.
- Directory: ``sub`` is one of the standard attributes ``ListUsers`` can filter on (the
  ``Filter`` parameter of ListUsers, Amazon Cognito user pools API reference), and the ledger's
  account id is the user's ``sub`` (the post-confirmation trigger opens the account under it).
- SES: a Simple message (subject and a plain-text body), from the verified ``email_sender``,
  in the configuration set when one is named (its event destinations see bounces and
  complaints); the notice's kind as an email tag (tag values are letters, digits, ``_`` and
  ``-`` only, so the notice id itself travels in the body's reference line).
"""

import contextlib
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Final

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.update import Action

from exchange.aws import aws_client
from exchange.notices import Notice
from exchange.notifications.emailer import (
    Claims,
    ClaimStatus,
    Directory,
    Emailer,
    EmailNotSent,
    Mailer,
)
from exchange.notifications.templates import Email
from exchange.settings import EmailSettings, UserDirectorySettings
from exchange.tables import condition_failed
from exchange.tables.notifications import NotificationRecord

CLAIM_TTL_SECONDS: Final = 30 * 86_400
CHARSET: Final = "UTF-8"


class DynamoClaims(Claims):
    def claim(self, notice: Notice, status: ClaimStatus, *, now_ns: int, stale_before: int) -> bool:
        record = NotificationRecord(
            notice.notice_id,
            account_id=notice.account_id,
            kind=notice.kind.value,
            status=status.value,
            created_ns=now_ns,
            expires_at=timedelta(seconds=CLAIM_TTL_SECONDS),
        )
        stale = (NotificationRecord.status == ClaimStatus.SENDING.value) & (
            NotificationRecord.created_ns < stale_before
        )
        try:
            record.save(condition=NotificationRecord.notice_id.does_not_exist() | stale)
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def finish(self, notice_id: str, status: ClaimStatus, message_id: str | None = None) -> None:
        actions: list[Action] = [NotificationRecord.status.set(status.value)]
        if message_id is not None:
            actions.append(NotificationRecord.message_id.set(message_id))
        try:
            NotificationRecord(notice_id).update(actions=actions)
        except UpdateError as exc:
            raise EmailNotSent(f"{notice_id}: the claim could not be finished: {exc}") from exc

    def release(self, notice_id: str) -> None:
        # If the delete fails the claim stays SENDING; it goes stale and a redelivery takes it.
        with contextlib.suppress(DeleteError):
            NotificationRecord(notice_id).delete()


class CognitoDirectory(Directory):
    def __init__(self, user_pool_id: str, client: Callable[[], Any]) -> None:
        self._user_pool_id = user_pool_id
        self._client_factory = client
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: UserDirectorySettings) -> "CognitoDirectory":
        if not settings.user_pool_id:
            raise ValueError("user_pool_id is not set")
        region = settings.user_pool_region or settings.aws_region

        def client() -> Any:
            import boto3  # noqa: PLC0415 - at first use

            # The pool's region, which may not be the function's (a DR function reads the
            # primary's pool); moto's endpoint locally.
            return boto3.client(
                "cognito-idp", region_name=region, endpoint_url=settings.aws_endpoint_url
            )

        return cls(settings.user_pool_id, client)

    def email_of(self, account_id: str) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if not account_id or '"' in account_id or "\\" in account_id:
            return None  # never a sub; and it must not reach the filter's quoting
        if self._client is None:
            self._client = self._client_factory()
        try:
            answer = self._client.list_users(
                UserPoolId=self._user_pool_id, Filter=f'sub = "{account_id}"', Limit=1
            )
        except (BotoCoreError, ClientError) as exc:
            raise EmailNotSent(f"the directory did not answer for {account_id}: {exc}") from exc
        for user in answer.get("Users", []):
            attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
            if attributes.get("sub") == account_id and attributes.get("email"):
                return str(attributes["email"])
        return None


class SesMailer(Mailer):
    def __init__(
        self, sender: str, client: Callable[[], Any], *, configuration_set: str | None = None
    ) -> None:
        self._sender = sender
        self._configuration_set = configuration_set
        self._client_factory = client
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: EmailSettings) -> "SesMailer":
        return cls(
            settings.email_sender,
            lambda: aws_client("sesv2", settings),
            configuration_set=settings.email_configuration_set,
        )

    def send(self, to: str, email: Email, notice: Notice) -> str:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if self._client is None:
            self._client = self._client_factory()
        request: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": CHARSET},
                    "Body": {"Text": {"Data": email.body, "Charset": CHARSET}},
                }
            },
            "EmailTags": [{"Name": "kind", "Value": notice.kind.value}],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            answer = self._client.send_email(**request)
        except (BotoCoreError, ClientError) as exc:
            raise EmailNotSent(f"{notice.notice_id}: SES did not take it: {exc}") from exc
        return str(answer["MessageId"])


def deliver_record(emailer: Emailer, record: SQSRecord) -> str:
    """One SQS message: its body is the notice's JSON (raw delivery); a body that is not one
    raises (msgspec's error) and the message fails."""
    return emailer.deliver(Notice.decode(record.body)).value


def email_batch(
    event: Mapping[str, Any], emailer: Emailer, *, context: Any = None
) -> PartialItemFailureResponse:
    """The emailer's handler body: ``{"batchItemFailures": [...]}``; a failed message (a send
    that failed, a body that is not a notice) is delivered again, then dead-lettered."""
    return process_partial_response(
        event=dict(event),
        record_handler=lambda record: deliver_record(emailer, record),
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )


__all__ = [
    "CognitoDirectory",
    "DynamoClaims",
    "SesMailer",
    "email_batch",
]
