"""The broker URL: as given locally, or Amazon MQ's endpoint plus a Secrets Manager secret."""

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from exchange.aws import secrets_client_factory
from exchange.domain.errors import ConfigurationError
from exchange.messaging import broker_url_from_settings
from exchange.settings import EngineSettings

ENDPOINT = "amqps://b-1234.mq.us-east-1.amazonaws.com:5671"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "EXCHANGE_SHARD_ID": "s1",
        "EXCHANGE_SYMBOLS": "BTC-USD",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _secret(value: str) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return str(client.create_secret(Name="mq", SecretString=value)["ARN"])


def test_amazon_mq_url_is_built_from_the_secret_with_escaped_credentials(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint and a secret whose password needs escaping
    arn = _secret(json.dumps({"username": "engine", "password": "p@ss/w:rd"}))
    monkeypatch.setenv("EXCHANGE_BROKER_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("EXCHANGE_BROKER_SECRET_ARN", arn)
    settings = EngineSettings()
    # When the URL is resolved
    url = broker_url_from_settings(settings, secrets_client_factory(settings))()
    # Then it carries the credentials, percent-encoded, and the default vhost
    assert url == "amqps://engine:p%40ss%2Fw%3Ard@b-1234.mq.us-east-1.amazonaws.com:5671/%2F"


def test_a_secret_without_a_password_is_a_configuration_error_that_hides_the_value(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = _secret(json.dumps({"username": "engine", "pw": "hunter2"}))
    monkeypatch.setenv("EXCHANGE_BROKER_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("EXCHANGE_BROKER_SECRET_ARN", arn)
    settings = EngineSettings()
    with pytest.raises(ConfigurationError) as raised:
        broker_url_from_settings(settings, secrets_client_factory(settings))()
    assert "hunter2" not in str(raised.value)


def test_neither_url_nor_endpoint_is_a_configuration_error(aws: None) -> None:
    settings = EngineSettings()
    with pytest.raises(ConfigurationError, match="EXCHANGE_BROKER_URL"):
        broker_url_from_settings(settings, secrets_client_factory(settings))
