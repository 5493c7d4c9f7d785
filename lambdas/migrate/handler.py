"""On deploy (a CDK trigger, once per deploy, in the primary region): migrates the ledger as its
admin, gives each function's database role its login with the password RDS Proxy presents for it,
and opens the fee account (``exchange.ledger.deploy``). Idempotent: a repeated deploy changes
nothing. A failure raises, so the trigger, and with it the deploy, fails.

The trigger's event only says that the deploy wants it run; it is not read.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.aws import SecretsClient, secrets_client_factory
from exchange.composition import CompositionRoot
from exchange.ledger.connection import admin_conninfo
from exchange.ledger.deploy import LedgerDeploy, role_passwords
from exchange.observability import logger, metrics, tracer
from exchange.settings import MigrateSettings


def compose(
    settings: MigrateSettings, *, secrets: Callable[[], SecretsClient] | None = None
) -> LedgerDeploy:
    """The function's object graph; tests pass their own Secrets Manager client factory."""
    factory = secrets or secrets_client_factory(settings)
    return LedgerDeploy(
        conninfo=admin_conninfo(settings, factory),
        passwords=role_passwords(settings.database_role_secret_arns, factory),
        fee_account_id=settings.ledger_fee_account_id,
    )


ROOT = CompositionRoot(MigrateSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, deploy: LedgerDeploy | None = None
) -> dict[str, object]:
    report = (deploy or ROOT()).run()
    metrics.add_metric(
        name="LedgerMigrationsApplied", unit=MetricUnit.Count, value=len(report.applied)
    )
    # The roles' names only: never a password.
    logger.info("ledger deployed", extra=report.as_dict())
    return report.as_dict()
