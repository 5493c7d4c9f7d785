"""Each Lambda function's environment, derived in one place from its settings model and its
catalog entry. The CDK app (``stacks.constructs.functions``) and local mode (``local.environment``)
both call ``function_environment``; they differ only in the values they have (CDK tokens and
secrets' ARNs in AWS; URLs of the local services and moto's resources locally).

A settings field reaches a function when its model reads it and the catalog gives the function
what the field configures: a table's field (``<logical>_table``) only for the tables in
``spec.tables``, and a field of a capability (``NEED_FIELDS``, e.g. the broker's endpoint) only for
the needs in ``spec.needs``. Powertools' own switches complete the environment.

>>> from lambdas.catalog import FUNCTIONS
>>> env = function_environment(
...     FUNCTIONS["ws_connections"],
...     {"connections_table": "t-connections", "orders_table": "t-orders", "redis_url": "redis://"},
... )
>>> env["EXCHANGE_CONNECTIONS_TABLE"], "EXCHANGE_ORDERS_TABLE" in env, "EXCHANGE_REDIS_URL" in env
('t-connections', False, False)
>>> env["POWERTOOLS_SERVICE_NAME"]
'ws_connections'
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from exchange.observability import METRICS_NAMESPACE
from exchange.settings import database_role, env_var
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS, FunctionSpec, Need

# The settings fields that configure each capability a function may need.
NEED_FIELDS: Final[Mapping[Need, frozenset[str]]] = MappingProxyType(
    {
        Need.BROKER: frozenset({"broker_url", "broker_endpoint", "broker_secret_arn"}),
        Need.LEDGER: frozenset(
            {"database_url", "database_host", "database_port", "database_name", "database_user"}
        ),
        Need.LEDGER_ADMIN: frozenset(
            {"database_url", "database_secret_arn", "database_role_secret_arns"}
        ),
        Need.REDIS: frozenset({"redis_url"}),
        Need.WS_MANAGEMENT: frozenset({"ws_management_endpoint"}),
        Need.WEBHOOK_SECRET: frozenset({"ledger_webhook_secret_arn", "webhook_secret"}),
        Need.KYC_WEBHOOK_SECRET: frozenset({"kyc_webhook_secret_arn", "kyc_webhook_secret"}),
        Need.JWKS: frozenset(
            {"user_pool_id", "user_pool_region", "app_client_id", "issuer", "jwks_url"}
        ),
        Need.API_KEY_ENCRYPT: frozenset({"api_key_kms_key_id"}),
        Need.API_KEY_DECRYPT: frozenset({"api_key_kms_key_id"}),
        Need.CANCEL_AFTER_QUEUE: frozenset({"cancel_after_queue_url"}),
        Need.ENGINE_SNAPSHOTS: frozenset(
            {"redis_url", "snapshot_bucket", "snapshot_hmac_key", "snapshot_hmac_secret_arn"}
        ),
        Need.REPORTS_BUCKET: frozenset({"reports_bucket"}),
        Need.PAYOUT_QUEUE: frozenset({"payout_queue_url"}),
        Need.PAYOUT_PROVIDER: frozenset(
            {"payout_provider_url", "payout_provider_secret_arn", "payout_provider_secret"}
        ),
        Need.NOTIFICATIONS_TOPIC: frozenset({"notifications_topic_arn"}),
        Need.EMAIL: frozenset({"email_sender", "email_configuration_set"}),
        Need.USER_DIRECTORY: frozenset({"user_pool_id", "user_pool_region"}),
    }
)
# ``<logical>_table`` -> the table's logical name.
TABLE_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {spec.settings_field: spec.logical_name for spec in TABLE_SPECS}
)
_NEEDS_OF: Final[Mapping[str, frozenset[Need]]] = MappingProxyType(
    {
        field: frozenset(need for need, fields in NEED_FIELDS.items() if field in fields)
        for field in frozenset().union(*NEED_FIELDS.values())
    }
)

# Read by Powertools itself, not by a settings model: the same for every function.
POWERTOOLS_SWITCHES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",  # responses may carry account data
    }
)
DEFAULT_LOG_LEVEL: Final = "INFO"


def wanted(spec: FunctionSpec, field: str) -> bool:
    """Whether ``spec``'s function gets ``field``: its model reads it, and the catalog gives the
    function the table or the need the field configures."""
    if field not in spec.settings.model_fields:
        return False
    if field in TABLE_FIELDS:
        return TABLE_FIELDS[field] in spec.tables
    needs = _NEEDS_OF.get(field)
    return needs is None or bool(needs & spec.needs)


def function_environment(spec: FunctionSpec, values: Mapping[str, str]) -> dict[str, str]:
    """``{variable: value}`` for ``spec``'s function: each of ``values`` (settings field names to
    values) that the function gets (``wanted``), named by its model (``env_var``), plus the
    service name (the function's name), the log level (``INFO`` unless ``values`` names one)
    and Powertools' switches.

    Raises KeyError for a field no function's model reads (a typo, or a value nothing uses).
    """
    unread = set(values) - {field for f in FUNCTIONS.values() for field in f.settings.model_fields}
    if unread:
        raise KeyError(f"no function's settings read {sorted(unread)}")
    model = spec.settings
    env = {env_var(model, field): value for field, value in values.items() if wanted(spec, field)}
    if Need.LEDGER in spec.needs and "database_host" in values:
        # Through RDS Proxy, each function is its own database role (created by the migrations).
        env[env_var(model, "database_user")] = database_role(spec.name)
    env[env_var(model, "service_name")] = spec.name
    env.setdefault(env_var(model, "log_level"), DEFAULT_LOG_LEVEL)
    env.update(POWERTOOLS_SWITCHES)
    return env
