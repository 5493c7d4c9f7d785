"""Each hosted Lambda's environment in local mode, read from what the CDK app deploys.

The synthesized template (``local.template.Deployment``) says which variables each function gets.
Local mode keeps exactly that set and gives each variable the local stand-in's value:

- a variable whose setting has a local value (a table name, the Redis URL, moto's user pool, a
  secret in moto, the API keys' KMS key in moto, the fake payment provider's URL, ...) takes it;
- a ``Ref`` or ``Fn::GetAtt`` of a resource local mode made from the template (an SQS queue:
  its URL, its ARN; an SNS topic: its ARN; an SES configuration set: its name) takes the local
  resource's value (``stand_ins``);
- a literal in the template (a log level, a limit, a JSON map) is kept as it is, except the
  environment's name, which is ``local``;
- the database: in AWS a function reaches RDS Proxy at ``EXCHANGE_DATABASE_HOST`` as its own role
  ``EXCHANGE_DATABASE_USER`` with an IAM token; locally it gets ``EXCHANGE_DATABASE_URL`` to the
  local PostgreSQL as that same role (trust authentication stands in for IAM's);
- the broker: Amazon MQ's endpoint and secret become the local RabbitMQ's URL (none with the
  in-process broker);
- the other region: local mode is one region, so settlement's replication gate, which waits for
  the DR region's copy of the journal (``settle_after_replica_region``), and the engine's
  failover fence (``fence``) are dropped: there is no copy to wait for and no other region to
  fence against (``make dr-drill`` runs two regions, gate and fence and all).

Anything else, a variable the function's settings do not read or an intrinsic local mode has no
stand-in for, stops the stack: the twin must not quietly differ from the deployment.

Each function is then built from its own settings (``CompositionRoot.use_settings``), since all
hosted functions share one process. The process environment keeps only what the Lambda runtime
and boto3 read (region, credentials).
"""

from collections.abc import Mapping
from typing import Any, Final

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic_settings import BaseSettings

from exchange.settings import EngineSettings, env_var
from lambdas.catalog import FUNCTIONS
from lambdas.environment import TABLE_FIELDS
from local.aws import REGION, AwsResources
from local.cfn import TemplateError, referenced_logical
from local.gateway.events import STAGE
from local.template import DeployedFunction, DeployedTask, Deployment

# Logical id -> what its ``Ref`` ("Ref") and each ``Fn::GetAtt`` attribute are locally.
StandIns = Mapping[str, Mapping[str, str]]

# In AWS, the Lambda runtime sets these itself; boto3 signs moto's requests with them.
RUNTIME_ENVIRONMENT: Final[Mapping[str, str]] = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}
# Set by the proxy's settings in AWS, folded into the local database URL.
_DATABASE_PARTS: Final = frozenset({"database_host", "database_port", "database_name"})
_BROKER_PARTS: Final = frozenset({"broker_endpoint", "broker_secret_arn"})


def settings_values(
    aws: AwsResources,
    *,
    gateway_url: str,
    database_url: str,
    redis_url: str,
    broker_url: str | None,
    snapshot_hmac_key: str,
    payout_provider_url: str | None = None,
) -> dict[str, str]:
    """Each settings field's local value (``broker_url`` None: the in-process broker).
    ``snapshot_hmac_key``: the key the engines sign snapshots with, given to whatever AWS gives
    the key's secret (the engines, the reconciliation). ``payout_provider_url``: the fake payment
    provider's (``local.provider``), in place of the real provider's URL the template names."""
    values = {
        "environment": "local",
        "aws_region": REGION,
        "aws_endpoint_url": aws.endpoint_url,
        "database_url": database_url,
        "redis_url": redis_url,
        "ws_management_endpoint": f"{gateway_url}/{STAGE}",
        "user_pool_id": aws.user_pool_id,
        "user_pool_region": REGION,
        "app_client_id": aws.app_client_id,
        "issuer": aws.issuer,
        "jwks_url": aws.jwks_url,  # moto's, not Cognito's public one
        "ledger_webhook_secret_arn": aws.webhook_secret_arn,
        "kyc_webhook_secret_arn": aws.kyc_secret_arn,
        "database_role_secret_arns": aws.role_secrets_json,
        "api_key_kms_key_id": aws.api_key_kms_key_arn,
        "snapshot_bucket": aws.snapshot_bucket,
        "snapshot_hmac_key": snapshot_hmac_key,
        "reports_bucket": aws.reports_bucket,
        "payout_provider_secret_arn": aws.payout_provider_secret_arn,
        **{field: aws.table_names[logical] for field, logical in TABLE_FIELDS.items()},
    }
    if broker_url is not None:
        values["broker_url"] = broker_url
    if payout_provider_url is not None:
        values["payout_provider_url"] = payout_provider_url
    return values


def as_role(database_url: str, role: str) -> str:
    """``database_url`` logging in as ``role`` (no password: local trust authentication)."""
    parts = conninfo_to_dict(database_url)
    parts.pop("password", None)
    parts["user"] = role
    return make_conninfo(**{k: str(v) for k, v in parts.items() if v is not None})


# Settings that name the other region: one region locally (the module's rules).
_OTHER_REGION: Final = frozenset({"settle_after_replica_region", "fence"})


def function_environment(
    function: DeployedFunction, values: Mapping[str, str], stand_ins: StandIns | None = None
) -> dict[str, str]:
    """``function``'s variables as deployed, with local values (see the module's rules)."""
    model = FUNCTIONS[function.name].settings
    return _translate(function.name, model, function.environment, values, stand_ins or {})


def engine_environment(task: DeployedTask, values: Mapping[str, str]) -> dict[str, str]:
    """An engine shard's task environment as deployed, with local values. ``values`` also has
    the engine's own: ``journal_stream`` and ``health_port``.

    The task must read the instruments store at start (``read_instruments_store`` and its
    table): without it an engine that restarts forgets the symbols operators listed at run
    time, so a template without both stops the stack."""
    name = f"engine {task.shard}"
    env = _translate(name, EngineSettings, task.environment, values, {})
    reads_store = env.get(env_var(EngineSettings, "read_instruments_store"), "").lower() == "true"
    if not reads_store or env_var(EngineSettings, "instruments_table") not in env:
        raise TemplateError(
            f"{name}: the task does not read the instruments store (EXCHANGE_READ_INSTRUMENTS_STORE"
            "=true and EXCHANGE_INSTRUMENTS_TABLE): listings would not survive a restart"
        )
    return env


def _stand_in(value: Any, stand_ins: StandIns) -> str | None:
    """The local value of a ``Ref`` or ``Fn::GetAtt`` of a resource local mode made."""
    logical = referenced_logical(value)
    if logical is None or logical not in stand_ins:
        return None
    attribute = value["Fn::GetAtt"][1] if "Fn::GetAtt" in value else "Ref"
    return stand_ins[logical].get(attribute)


def _local_value(
    name: str, variable: str, value: Any, local: str | None, stand_ins: StandIns
) -> str:
    """The setting's local value, else the local stand-in of the resource the template names,
    else the template's literal."""
    if local is not None:
        return local
    resolved = _stand_in(value, stand_ins)
    return resolved if resolved is not None else _literal(name, variable, value)


def _translate(
    name: str,
    model: type[BaseSettings],
    deployed: Mapping[str, Any],
    values: Mapping[str, str],
    stand_ins: StandIns,
) -> dict[str, str]:
    by_variable = {env_var(model, field): field for field in model.model_fields}
    env: dict[str, str] = {}
    if "aws_region" in model.model_fields:  # a function that calls AWS (not a pure transform)
        env["EXCHANGE_AWS_ENDPOINT_URL"] = values["aws_endpoint_url"]
        env[env_var(model, "aws_region")] = REGION
    for variable, value in deployed.items():
        if variable.startswith("POWERTOOLS_"):
            env[variable] = _literal(name, variable, value)
            continue
        field = by_variable.get(variable)
        if field is None:
            raise TemplateError(f"{name}: {variable} is not read by {model.__name__}")
        if field in _DATABASE_PARTS or field in _BROKER_PARTS or field in _OTHER_REGION:
            continue
        if field == "database_user":
            role = _literal(name, variable, value)
            env[env_var(model, "database_url")] = as_role(values["database_url"], role)
            env[variable] = role
        elif field == "database_secret_arn":  # the admin: the local database as it is
            env[env_var(model, "database_url")] = values["database_url"]
        elif field == "snapshot_hmac_secret_arn":  # the key itself, not a secret holding it
            env[env_var(model, "snapshot_hmac_key")] = values["snapshot_hmac_key"]
        else:
            env[variable] = _local_value(name, variable, value, values.get(field), stand_ins)
    fields = {by_variable.get(v) for v in deployed}
    if "database_host" in fields and "database_user" not in fields:
        raise TemplateError(f"{name}: a database host without a database user")
    if _BROKER_PARTS & fields and "broker_url" in values:
        env[env_var(model, "broker_url")] = values["broker_url"]
    if "environment" in model.model_fields:
        env[env_var(model, "environment")] = "local"
    return env


def function_environments(
    deployment: Deployment, values: Mapping[str, str], stand_ins: StandIns | None = None
) -> dict[str, dict[str, str]]:
    """Every deployed function's local environment (``function_environment``)."""
    return {
        name: function_environment(function, values, stand_ins)
        for name, function in deployment.functions.items()
    }


def _literal(name: str, variable: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    raise TemplateError(
        f"{name}: {variable} is {value!r} in the template; local mode has no stand-in"
    )


def shorten(environments: dict[str, dict[str, str]], overrides: Mapping[str, str]) -> None:
    """Set each settings field of ``overrides`` (field -> value) in the environment of every
    function whose model reads it: local mode's faster clocks (a new withdrawal destination's
    delay, ...), deployed or not. A field no hosted function reads is a mistake: KeyError.

    >>> envs = {"account": {}, "markets": {}}
    >>> shorten(envs, {"destination_delay_seconds": "2"})
    >>> envs
    {'account': {'EXCHANGE_DESTINATION_DELAY_SECONDS': '2'}, 'markets': {}}
    """
    for field, value in overrides.items():
        readers = [name for name in environments if field in FUNCTIONS[name].settings.model_fields]
        if not readers:
            raise KeyError(f"no hosted function reads {field}")
        for name in readers:
            environments[name][env_var(FUNCTIONS[name].settings, field)] = value
