"""SQS event source mapping on the notifications queue (subscribed to the topic, raw message
delivery): emails each notice once through SES, as its owner's preferences say
(``exchange.notifications.emailer``). A message whose email could not be sent is reported with
Powertools' partial batch response and delivered again; after the queue's maxReceiveCount it goes
to the dead-letter queue."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.ledger.notices_port import NoticesPort
from exchange.notifications.emailer import Claims, Directory, Emailer, Mailer
from exchange.notifications.emailer_aws import email_batch
from exchange.observability import logger, metrics, tracer
from exchange.settings import EmailerSettings


def compose(
    settings: EmailerSettings,
    *,
    ledger: NoticesPort | None = None,
    claims: Claims | None = None,
    directory: Directory | None = None,
    mailer: Mailer | None = None,
) -> Emailer:
    """The function's object graph; tests and local mode may pass any of its adapters."""
    from exchange.domain.instruments import InstrumentCatalog  # noqa: PLC0415 - at first use
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415
    from exchange.notifications.emailer_aws import (  # noqa: PLC0415
        CognitoDirectory,
        DynamoClaims,
        SesMailer,
    )
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    return Emailer(
        # Preferences need no instruments.
        ledger=ledger or PostgresLedger.from_settings(settings, InstrumentCatalog([])),
        claims=claims or DynamoClaims(),
        directory=directory or CognitoDirectory.from_settings(settings),
        mailer=mailer or SesMailer.from_settings(settings),
    )


ROOT = CompositionRoot(EmailerSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, emailer: Emailer | None = None
) -> PartialItemFailureResponse:
    return email_batch(event, emailer or ROOT(), context=context)
