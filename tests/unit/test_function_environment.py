"""Each function's environment (``lambdas.environment``) against its settings model: every
variable it gets is one the model reads, the model loads from it, and the catalog names the model
the handler's composition root really uses."""

import importlib
import os
import typing

import pytest

from exchange.settings import env_var
from lambdas.catalog import FUNCTIONS, FunctionSpec
from lambdas.environment import NEED_FIELDS, POWERTOOLS_SWITCHES, function_environment
from lambdas.environment import TABLE_FIELDS as TABLES

SPECS = list(FUNCTIONS.values())
IDS = [spec.name for spec in SPECS]

# What the CDK app gives (CDK tokens there; plausible literals here).
DEPLOYED = {
    "environment": "prod",
    "log_level": "INFO",
    "broker_endpoint": "amqps://b-1.mq.us-east-1.amazonaws.com:5671",
    "broker_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:broker",
    "database_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:db",
    "database_host": "exchange-prod-ledger.proxy-abc.us-east-1.rds.amazonaws.com",
    "database_port": "5432",
    "database_name": "exchange",
    "database_role_secret_arns": '{"exchange_orders": "arn:aws:secretsmanager:us-east-1:1:s:r"}',
    "kyc_webhook_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:kyc",
    "redis_url": "rediss://cache.example:6380",
    "ws_management_endpoint": "https://api.execute-api.us-east-1.amazonaws.com/live",
    "ledger_webhook_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:webhook",
    "user_pool_id": "us-east-1_pool",
    "app_client_id": "client",
    "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool",
    "jwks_url": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool/.well-known/jwks.json",
    **{field: f"exchange-prod-{logical}" for field, logical in TABLES.items()},
}
# What local mode gives (``local.environment``): URLs instead of secrets, moto's endpoint.
LOCAL = {
    **{
        k: v
        for k, v in DEPLOYED.items()
        if not k.endswith(("_secret_arn", "_endpoint")) and not k.startswith("database_")
    },
    "environment": "local",
    "aws_region": "us-east-1",
    "aws_endpoint_url": "http://127.0.0.1:5000",
    "database_url": "postgresql://localhost/exchange",
    "broker_url": "amqp://guest:guest@localhost:5672/%2F",
    "ws_management_endpoint": "http://127.0.0.1:8000/local",
    "ledger_webhook_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:webhook",
    "kyc_webhook_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:kyc",
}
VALUES = {"deployed": DEPLOYED, "local": LOCAL}


def read_by(spec: FunctionSpec) -> set[str]:
    """The variables the function's settings model reads."""
    return {env_var(spec.settings, field) for field in spec.settings.model_fields}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_catalog_names_the_model_of_the_handlers_composition_root(spec: FunctionSpec) -> None:
    module = importlib.import_module(f"lambdas.{spec.name}.handler")
    assert typing.get_type_hints(module.compose)["settings"] is spec.settings


@pytest.mark.parametrize("where", VALUES)
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_environment_has_only_variables_the_model_reads(spec: FunctionSpec, where: str) -> None:
    env = function_environment(spec, VALUES[where])
    unread = set(env) - read_by(spec) - set(POWERTOOLS_SWITCHES)
    assert not unread, f"{spec.name} gets {sorted(unread)}, which its settings do not read"
    assert env["POWERTOOLS_SERVICE_NAME"] == spec.name
    tables = {variable for variable in env if variable.endswith("_TABLE")}
    assert tables == {env_var(spec.settings, f"{logical}_table") for logical in spec.tables}


@pytest.mark.parametrize("where", VALUES)
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_model_loads_from_the_environment_alone(
    spec: FunctionSpec, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing but the derived environment: a variable the model requires and the function does
    # not get fails here, as it would at the function's cold start.
    for variable in list(os.environ):
        if variable.startswith(("EXCHANGE_", "POWERTOOLS_")) or variable == "AWS_REGION":
            monkeypatch.delenv(variable)
    for variable, value in function_environment(spec, VALUES[where]).items():
        monkeypatch.setenv(variable, value)
    settings = spec.settings()
    for logical in spec.tables:
        assert getattr(settings, f"{logical}_table") == VALUES[where][f"{logical}_table"]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_need_and_table_of_the_catalog_is_read_by_the_model(spec: FunctionSpec) -> None:
    fields = set(spec.settings.model_fields)
    for need in spec.needs:
        assert NEED_FIELDS[need] & fields, f"{spec.name} needs {need} but reads none of its fields"
    for logical in spec.tables:
        assert f"{logical}_table" in fields, f"{spec.name} uses {logical} but cannot name it"


def test_through_the_proxy_each_ledger_function_is_its_own_database_role() -> None:
    for spec in SPECS:
        env = function_environment(spec, DEPLOYED)
        if "LEDGER" in {need.name for need in spec.needs}:
            assert env["EXCHANGE_DATABASE_USER"] == f"exchange_{spec.name}"
            assert "EXCHANGE_DATABASE_SECRET_ARN" not in env  # the admin's: migrate only
        else:
            assert "EXCHANGE_DATABASE_USER" not in env
    migrate = function_environment(FUNCTIONS["migrate"], DEPLOYED)
    assert "EXCHANGE_DATABASE_SECRET_ARN" in migrate
    assert "EXCHANGE_DATABASE_HOST" not in migrate


def test_a_value_no_function_reads_is_refused() -> None:
    # The engine task's alone: no function's settings read it.
    with pytest.raises(KeyError, match="linger_ms"):
        function_environment(FUNCTIONS["orders"], {"linger_ms": "2"})
