"""AWS for the API-key tests: moto in process (DynamoDB tables made from TABLE_SPECS, a
symmetric KMS key), or moto's server when Cognito must serve a JWKS over HTTP."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exchange.settings import ApiKeysSettings
from exchange.tables import TABLE_SPECS, bind_tables
from tests.integration.streams.conftest import moto_server  # noqa: F401 - the fixture

REGION = "us-east-1"


@dataclass
class Aws:
    settings: ApiKeysSettings
    dynamodb: Any
    kms: Any
    kms_key_id: str


def create_tables(dynamodb: Any, settings: Any) -> None:
    for spec in TABLE_SPECS:
        dynamodb.create_table(**spec.create_table_kwargs(getattr(settings, spec.settings_field)))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        key_id = kms.create_key(Description="API-key secrets")["KeyMetadata"]["KeyId"]
        settings = ApiKeysSettings(api_key_kms_key_id=key_id)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_tables(dynamodb, settings)
        bind_tables(settings)
        yield Aws(settings, dynamodb, kms, key_id)
