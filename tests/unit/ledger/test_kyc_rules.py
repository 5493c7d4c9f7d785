"""KYC decisions without a database: which decision stands, what a webhook body must hold, and
where the webhook's secret comes from."""

import json

import boto3
import pytest
from moto import mock_aws
from pydantic import SecretStr

from exchange.domain import ConfigurationError
from exchange.ledger import InvalidSignature, InvalidWebhook, KycStatus, StaleWebhook
from exchange.ledger.verification import (
    PROVIDER_ACTOR,
    KycDecision,
    KycSource,
    KycState,
    kyc_webhook_secrets,
    parse_kyc_webhook,
    supersedes,
    verify_kyc_webhook,
)
from exchange.ledger.webhooks import sign
from exchange.settings import KycSettings

PR, OP = KycSource.PROVIDER, KycSource.OPERATOR
PENDING, VERIFIED, REJECTED, SUSPENDED = (
    KycStatus.PENDING,
    KycStatus.VERIFIED,
    KycStatus.REJECTED,
    KycStatus.SUSPENDED,
)


def provider(status: KycStatus, at: int) -> KycDecision:
    return KycDecision("a", status, PR, PROVIDER_ACTOR, at, event_id=f"e-{at}")


def operator(status: KycStatus, at: int) -> KycDecision:
    return KycDecision("a", status, OP, "ops", at, reason="why")


@pytest.mark.parametrize(
    ("current", "decision", "applies"),
    [
        # a new account: the first verdict applies
        (KycState(PENDING), provider(VERIFIED, 10), True),
        # accounts opened before decisions were recorded (or locally) take verdicts too
        (KycState(VERIFIED), provider(REJECTED, 10), True),
        # the newest verdict wins; at the same second REJECTED does
        (KycState(REJECTED, PR, 20), provider(VERIFIED, 10), False),
        (KycState(REJECTED, PR, 20), provider(VERIFIED, 20), False),
        (KycState(VERIFIED, PR, 20), provider(REJECTED, 20), True),
        (KycState(REJECTED, PR, 20), provider(VERIFIED, 30), True),
        # an operator's decision stands against every verdict, but PENDING hands back
        (KycState(VERIFIED, OP, 20), provider(REJECTED, 30), False),
        (KycState(REJECTED, OP, 20), provider(VERIFIED, 30), False),
        (KycState(PENDING, OP, 20), provider(VERIFIED, 30), True),
        (KycState(PENDING, OP, 20), provider(VERIFIED, 10), False),
        # a suspension is lifted by an operator only
        (KycState(SUSPENDED), provider(VERIFIED, 30), False),
        (KycState(SUSPENDED, OP, 20), operator(VERIFIED, 10), True),
        # an operator's decision always applies
        (KycState(VERIFIED, PR, 50), operator(SUSPENDED, 10), True),
        (KycState(REJECTED, OP, 20), operator(PENDING, 30), True),
    ],
)
def test_which_decision_stands(current: KycState, decision: KycDecision, applies: bool) -> None:
    assert supersedes(decision, current) is applies


def body(**fields: object) -> bytes:
    return json.dumps(
        {"event_id": "kyc-1", "type": "kyc.rejected", "account_id": "a-1", **fields}
    ).encode()


def test_a_verdict_reads_its_fields_and_ignores_unknown_ones() -> None:
    decision = parse_kyc_webhook(body(reason="expired id", risk="high"), signed_at=7)
    assert decision == KycDecision(
        "a-1", REJECTED, PR, PROVIDER_ACTOR, 7, reason="expired id", event_id="kyc-1"
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'["kyc.verified"]',
        body(type="kyc.pending"),
        body(type=None),
        body(account_id=""),
        body(account_id="x" * 129),
        body(event_id=7),
        body(reason=["no"]),
        body(reason="r" * 1001),
    ],
)
def test_a_malformed_verdict_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidWebhook):
        parse_kyc_webhook(raw, signed_at=1)


def test_the_signature_is_checked_before_the_body_and_the_clock_after_it() -> None:
    raw = b"not even json"
    with pytest.raises(InvalidSignature):
        verify_kyc_webhook(raw, sign(raw, secret=b"other", timestamp=100), secrets=[b"s"], now=100)
    with pytest.raises(StaleWebhook):
        verify_kyc_webhook(raw, sign(raw, secret=b"s", timestamp=100), secrets=[b"s"], now=500)
    with pytest.raises(InvalidWebhook):
        verify_kyc_webhook(raw, sign(raw, secret=b"s", timestamp=100), secrets=[b"s"], now=100)


def test_the_secret_comes_from_the_setting_locally_or_secrets_manager_in_aws() -> None:
    local = KycSettings(database_url="postgresql://x", kyc_webhook_secret=SecretStr('["n", "o"]'))
    assert kyc_webhook_secrets(local)() == [b"n", b"o"]
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="kyc-webhook", SecretString="kycsec")["ARN"]
        in_aws = KycSettings(database_url="postgresql://x", kyc_webhook_secret_arn=arn)
        assert kyc_webhook_secrets(in_aws)() == [b"kycsec"]
    with pytest.raises(ConfigurationError, match="KYC_WEBHOOK_SECRET"):
        kyc_webhook_secrets(KycSettings(database_url="postgresql://x"))
