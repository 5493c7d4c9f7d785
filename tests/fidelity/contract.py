"""The environment contract: a deployable's settings model against the environment the template
gives it.

``exchange.settings.settings_from_environment`` reads a model from exactly the given variables,
with pydantic-settings' own environment source (so JSON-valued fields, aliases such as
``POWERTOOLS_SERVICE_NAME`` and ``NoDecode`` fields read as they do from ``os.environ``), and
nothing else: not the process's environment, no ``.env`` file. ``problems`` lists what breaks
the contract:

- the model does not validate (a required setting is missing, or a value is malformed);
- an ``EXCHANGE_*`` variable the model does not read (dead: a typo, or a setting nothing uses);
- a setting the deployable needs in AWS that its model could leave to a default or to nothing:
  each table the catalog gives a function (a missing name would silently fall back to the
  local default ``exchange-<table>``), and the AWS form of each need (``AWS_NEEDS``).
"""

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from exchange.domain.errors import ConfigurationError
from exchange.settings import env_var, settings_from_environment
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FunctionSpec, Need

PREFIX: Final = "EXCHANGE_"
# What each need takes in AWS (its local form, a URL or a value, is for local mode only).
AWS_NEEDS: Final[Mapping[Need, tuple[str, ...]]] = {
    Need.BROKER: ("broker_endpoint", "broker_secret_arn"),
    Need.LEDGER: ("database_host", "database_user"),
    Need.LEDGER_ADMIN: ("database_secret_arn", "database_role_secret_arns"),
    Need.REDIS: ("redis_url",),
    Need.WS_MANAGEMENT: ("ws_management_endpoint",),
    Need.WEBHOOK_SECRET: ("ledger_webhook_secret_arn",),
    Need.KYC_WEBHOOK_SECRET: ("kyc_webhook_secret_arn",),
    Need.JWKS: ("user_pool_id", "app_client_id"),
    Need.API_KEY_ENCRYPT: ("api_key_kms_key_id",),
    Need.API_KEY_DECRYPT: ("api_key_kms_key_id",),
    Need.CANCEL_AFTER_QUEUE: ("cancel_after_queue_url",),
    # Locally the HMAC key itself (snapshot_hmac_key); in AWS the secret that holds it.
    Need.ENGINE_SNAPSHOTS: ("redis_url", "snapshot_bucket", "snapshot_hmac_secret_arn"),
    Need.REPORTS_BUCKET: ("reports_bucket",),
    Need.PAYOUT_QUEUE: ("payout_queue_url",),
    # Locally the secret itself (payout_provider_secret); in AWS the secret that holds it.
    Need.PAYOUT_PROVIDER: ("payout_provider_url", "payout_provider_secret_arn"),
    Need.NOTIFICATIONS_TOPIC: ("notifications_topic_arn",),
    # The model's sender is a placeholder default: AWS must name the verified identity's address.
    Need.EMAIL: ("email_sender", "email_configuration_set"),
    # The pool is in the primary region: the DR region's emailer must be told where.
    Need.USER_DIRECTORY: ("user_pool_id", "user_pool_region"),
}
_TABLE_FIELD: Final = {spec.logical_name: spec.settings_field for spec in TABLE_SPECS}


def variables_of(model: type[BaseSettings]) -> dict[str, str]:
    """Variable -> field, for every field of ``model``."""
    return {env_var(model, name): name for name in model.model_fields}


def problems(
    model: type[BaseSettings],
    environment: Mapping[str, Any],
    *,
    tables: Iterable[str] = (),
    needs: Iterable[Need] = (),
) -> list[str]:
    """What breaks the contract between ``model`` and ``environment`` (see the module)."""
    found = []
    text = {name: value for name, value in environment.items() if isinstance(value, str)}
    found += [
        f"{name} is not a string: {value!r}"
        for name, value in environment.items()
        if name not in text
    ]
    try:
        settings_from_environment(model, text)
    except ConfigurationError as refused:
        exc = refused.__cause__
        if not isinstance(exc, ValidationError):
            raise
        variables = {field: variable for variable, field in variables_of(model).items()}
        for error in exc.errors(include_input=False):
            where = str(error["loc"][0]) if error["loc"] else model.__name__
            found.append(f"{variables.get(where, where)}: {error['msg']}")
    read = variables_of(model)
    found += [
        f"{name} is set but {model.__name__} reads no such variable"
        for name in sorted(environment)
        if name.startswith(PREFIX) and name not in read
    ]
    wanted = [_TABLE_FIELD[table] for table in sorted(tables)]
    wanted += [field for need in sorted(needs) for field in AWS_NEEDS.get(need, ())]
    for field in wanted:
        if field not in model.model_fields:
            found.append(f"{model.__name__} has no field {field} (what AWS needs of it)")
        elif env_var(model, field) not in environment:
            found.append(f"{env_var(model, field)} is not set (needed in AWS)")
    return found


def function_problems(spec: FunctionSpec, environment: Mapping[str, Any]) -> list[str]:
    return problems(spec.settings, environment, tables=spec.tables, needs=spec.needs)
