"""On deploy (a CDK trigger, once per deploy, in the primary region): migrates the ledger as its
admin, gives each function's database role its login with the password RDS Proxy presents for it,
and opens the fee account (``exchange.ledger.deploy``); then seeds the instruments store with
version 1 of each instrument-file symbol it lacks (``exchange.instruments``). Idempotent: a
repeated deploy changes nothing (each seed is a conditional write; a symbol listed already, or
changed by an operator, is left as it is). A failure raises, so the trigger, and with it the
deploy, fails.

The trigger's event only says that the deploy wants it run; it is not read.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.aws import SecretsClient, secrets_client_factory
from exchange.composition import CompositionRoot
from exchange.instruments.store import InstrumentStore
from exchange.ledger.connection import admin_conninfo
from exchange.ledger.deploy import DeployReport, LedgerDeploy, role_passwords
from exchange.observability import logger, metrics, tracer
from exchange.settings import MigrateSettings


@dataclass(frozen=True, slots=True)
class MigrateReport:
    ledger: DeployReport
    instruments_seeded: int | None  # None: no instruments table configured

    def as_dict(self) -> dict[str, object]:
        return {**self.ledger.as_dict(), "instruments_seeded": self.instruments_seeded}


@dataclass(frozen=True, slots=True)
class Migration:
    """The ledger first (what trading cannot start without), then the instruments."""

    ledger: LedgerDeploy
    seed: Callable[[], int] | None

    def run(self) -> MigrateReport:
        report = self.ledger.run()
        return MigrateReport(report, None if self.seed is None else self.seed())


def compose(
    settings: MigrateSettings,
    *,
    secrets: Callable[[], SecretsClient] | None = None,
    store: InstrumentStore | None = None,
) -> Migration:
    """The function's object graph; tests pass their own Secrets Manager client factory and
    instruments store. The store is the instruments table when the environment names it."""
    from exchange.instruments.composition import instrument_store, static_shards  # noqa: PLC0415

    factory = secrets or secrets_client_factory(settings)
    ledger = LedgerDeploy(
        conninfo=admin_conninfo(settings, factory),
        passwords=role_passwords(settings.database_role_secret_arns, factory),
        fee_account_id=settings.ledger_fee_account_id,
    )
    found = store or instrument_store(settings)
    if found is None:
        return Migration(ledger, None)
    catalog, shards = settings.catalog(), static_shards(settings)
    return Migration(ledger, lambda: found.seed(catalog, shards, now_ns=time.time_ns()))


ROOT = CompositionRoot(MigrateSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, deploy: Migration | None = None
) -> dict[str, object]:
    report = (deploy or ROOT()).run()
    metrics.add_metric(
        name="LedgerMigrationsApplied", unit=MetricUnit.Count, value=len(report.ledger.applied)
    )
    metrics.add_metric(
        name="InstrumentsSeeded", unit=MetricUnit.Count, value=report.instruments_seeded or 0
    )
    # The roles' names only: never a password.
    logger.info("ledger deployed", extra=report.as_dict())
    return report.as_dict()
