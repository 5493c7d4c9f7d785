"""The payout queue (SQS on moto, the in-memory fake) and the provider's API secret (the local
setting, or Secrets Manager on moto with a rotation's JSON array)."""

import json

import boto3
import pytest
from moto import mock_aws
from pydantic import SecretStr

from exchange.domain.errors import ConfigurationError
from exchange.payouts.provider import provider_secret
from exchange.payouts.queue import (
    InMemoryPayoutQueue,
    InvalidPayoutMessage,
    PayoutQueueUnavailable,
    decode_message,
    payout_queue,
)
from exchange.settings import PayoutProviderSettings, PayoutQueueSettings


def test_a_withdrawal_sent_to_the_sqs_queue_arrives_as_its_id() -> None:
    with mock_aws():
        # Given the payout queue
        url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="payouts")[
            "QueueUrl"
        ]

        # When the account function sends a withdrawal to it
        payout_queue(PayoutQueueSettings(payout_queue_url=url)).send("wd-1")

        # Then the worker reads the withdrawal's id from the message
        messages = boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=url)
        (message,) = messages["Messages"]
        assert json.loads(message["Body"]) == {"withdrawal_id": "wd-1"}
        assert decode_message(message["Body"]) == "wd-1"


def test_a_send_to_a_missing_queue_is_unavailable() -> None:
    with mock_aws():
        queue = payout_queue(
            PayoutQueueSettings(
                payout_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/nope"
            )
        )
        with pytest.raises(PayoutQueueUnavailable, match="sweeper"):
            queue.send("wd-1")


def test_an_unset_queue_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        payout_queue(PayoutQueueSettings())


@pytest.mark.parametrize(
    "body", ["", "[]", '{"withdrawal_id": 7}', '{"withdrawal_id": ""}', "{", '{"id": "wd-1"}']
)
def test_a_message_that_is_not_a_withdrawal_id_is_invalid(body: str) -> None:
    with pytest.raises(InvalidPayoutMessage):
        decode_message(body)


def test_the_in_memory_queue_can_be_told_to_fail() -> None:
    queue = InMemoryPayoutQueue(fail=True)
    with pytest.raises(PayoutQueueUnavailable):
        queue.send("wd-1")
    assert queue.sent == []


def test_the_local_provider_secret_signs() -> None:
    settings = PayoutProviderSettings(payout_provider_secret=SecretStr("local-secret"))
    assert provider_secret(settings)() == b"local-secret"


def test_the_provider_secret_from_secrets_manager_signs_with_the_newest_of_a_rotation() -> None:
    with mock_aws():
        # Given the secret in the middle of a rotation: a JSON array, newest first
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="exchange/payout-provider", SecretString='["new-secret", "old-secret"]'
        )["ARN"]

        # When the adapter's secret is read, Then it signs with the newest
        assert provider_secret(PayoutProviderSettings(payout_provider_secret_arn=arn))() == (
            b"new-secret"
        )


def test_no_provider_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        provider_secret(PayoutProviderSettings())
