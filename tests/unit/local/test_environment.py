"""Local mode's one process environment for every hosted function: derived from the same
``function_environment`` as the CDK app's, holding only what some function's settings read."""

import os

import pytest

from exchange.settings import env_var
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS, FunctionSpec
from local.aws import AwsResources
from local.environment import RUNTIME_CREDENTIALS, lambda_environment, settings_values

AWS = AwsResources(
    endpoint_url="http://127.0.0.1:5000",
    table_names={spec.logical_name: f"exchange-{spec.logical_name}" for spec in TABLE_SPECS},
    journal_stream="exchange-events",
    journal_shards=1,
    snapshot_bucket="exchange-snapshots",
    user_pool_id="us-east-1_local",
    app_client_id="client",
    webhook_secret_arn="arn:aws:secretsmanager:us-east-1:000000000000:secret:webhook",  # noqa: S106
    webhook_secret="s3cret",  # noqa: S106 - a test value
)


def environment(broker_url: str | None) -> dict[str, str]:
    return lambda_environment(
        settings_values(
            AWS,
            gateway_url="http://127.0.0.1:8000",
            database_url="postgresql://localhost/exchange",
            redis_url="redis://localhost:6379/0",
            broker_url=broker_url,
        )
    )


def test_every_variable_is_read_by_some_function_and_powertools_is_left_to_the_process() -> None:
    env = environment("amqp://guest:guest@localhost:5672/%2F")
    read = {
        env_var(spec.settings, field)
        for spec in FUNCTIONS.values()
        for field in spec.settings.model_fields
    }
    assert set(env) - read == set(RUNTIME_CREDENTIALS)
    assert not [variable for variable in env if variable.startswith("POWERTOOLS_")]
    assert env["EXCHANGE_BROKER_URL"].startswith("amqp://")
    assert env["EXCHANGE_WS_MANAGEMENT_ENDPOINT"] == "http://127.0.0.1:8000/local"
    assert env["EXCHANGE_ISSUER"] == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local"
    assert env["EXCHANGE_JWKS_URL"] == (
        "http://127.0.0.1:5000/us-east-1_local/.well-known/jwks.json"
    )


def test_in_process_broker_means_no_broker_url() -> None:
    assert "EXCHANGE_BROKER_URL" not in environment(None)


@pytest.mark.parametrize("spec", list(FUNCTIONS.values()), ids=list(FUNCTIONS))
def test_every_function_loads_its_settings_from_it(
    spec: FunctionSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in list(os.environ):
        if variable.startswith("EXCHANGE_") or variable == "AWS_REGION":
            monkeypatch.delenv(variable)
    for variable, value in environment(None).items():
        monkeypatch.setenv(variable, value)
    settings = spec.settings()
    for logical in spec.tables:
        assert getattr(settings, f"{logical}_table") == f"exchange-{logical}"
