"""Cognito post-confirmation trigger: opens the confirmed user's ledger account with KYC PENDING
and the user's email (``exchange.ledger.onboarding``); a confirmed password reset changes nothing.

Cognito requires the event back. The trigger is idempotent (Cognito tries it up to three times);
a failure raises, so Cognito fails the confirmation and the user confirms again.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.ledger.onboarding import AccountOpener, Onboarding
from exchange.observability import logger, metrics, tracer
from exchange.settings import OnboardingSettings


def compose(settings: OnboardingSettings, *, opener: AccountOpener | None = None) -> Onboarding:
    """The function's object graph: the ledger through RDS Proxy as ``exchange_onboarding``."""
    if opener is None:
        from exchange.ledger.connection import function_pool  # noqa: PLC0415 - at first use
        from exchange.ledger.postgres.kyc import PostgresAccountOpener  # noqa: PLC0415

        opener = PostgresAccountOpener(function_pool(settings))
    return Onboarding(opener)


ROOT = CompositionRoot(OnboardingSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, onboarding: Onboarding | None = None
) -> dict[str, Any]:
    onboarded = (onboarding or ROOT()).on_confirmation(event)
    opened = onboarded is not None and onboarded.opened
    metrics.add_metric(name="AccountsOpened", unit=MetricUnit.Count, value=int(opened))
    if onboarded is not None:
        # The account id only: the email is personal data and stays out of the logs.
        logger.info(
            "ledger account opened" if opened else "ledger account already open",
            extra={"account_id": onboarded.account_id},
        )
    return event
