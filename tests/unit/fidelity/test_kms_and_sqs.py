"""The IAM fidelity check's KMS and SQS rules: direct KMS calls (API keys' secrets) with their
encryption context as condition keys ("AWS KMS condition keys"), SQS operations on the queue's ARN
("Amazon SQS API permissions: Actions and resource reference"), the KMS requests SQS makes for
its callers ("Amazon SQS key management"), multi-Region keys and their replicas ("Multi-Region
keys in AWS KMS"), and the local stack's queue and key translated to the deployment's."""

from typing import Any

import pytest

from tests.fidelity.actions import Call, Requirement, Unmapped, key_requirements, requirements
from tests.fidelity.cfn import Stacks, StackTemplate
from tests.fidelity.policy import Policies, Request, evaluate, statements
from tests.fidelity.translate import LocalNames, Translation, Untranslatable

ACCOUNT = "111122223333"
R = "us-east-1"
KEY = f"arn:aws:kms:{R}:{ACCOUNT}:key/mrk-0123"
QUEUE_URL = f"https://sqs.{R}.amazonaws.com/{ACCOUNT}/timers"
QUEUE = f"arn:aws:sqs:{R}:{ACCOUNT}:timers"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/rest_authorizer"
CONTEXT = {"key_id": "ak_1", "account_id": "acc-1"}
# What stacks/constructs/grants.api_key_statement writes.
API_KEY_GRANT = {
    "Effect": "Allow",
    "Action": "kms:Decrypt",
    "Resource": KEY,
    "Condition": {
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["account_id", "key_id"]},
        "Null": {
            "kms:EncryptionContext:account_id": "false",
            "kms:EncryptionContext:key_id": "false",
        },
    },
}


def needed(service: str, operation: str, **params: Any) -> list[Requirement]:
    return requirements(Call("fn", service, operation, R, params), account=ACCOUNT)


def test_a_kms_call_is_on_its_key_with_its_encryption_context_as_condition_keys() -> None:
    (by_arn,) = needed("kms", "Decrypt", KeyId=KEY, EncryptionContext=CONTEXT)
    assert (by_arn.action, by_arn.resource) == ("kms:Decrypt", KEY)
    assert by_arn.context["kms:EncryptionContextKeys"] == ("account_id", "key_id")
    assert by_arn.context["kms:EncryptionContext:key_id"] == "ak_1"
    (by_id,) = needed("kms", "Encrypt", KeyId="mrk-0123")
    assert (by_id.resource, by_id.context["kms:EncryptionContextKeys"]) == (KEY, ())


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("Decrypt", {"EncryptionContext": CONTEXT}),  # the key is only inside the ciphertext
        ("Encrypt", {"KeyId": "alias/exchange-api-keys"}),  # IAM decides on the aliased key
        ("ScheduleKeyDeletion", {"KeyId": KEY}),
    ],
)
def test_kms_calls_this_check_cannot_place_are_unmapped(
    operation: str, params: dict[str, Any]
) -> None:
    with pytest.raises(Unmapped):
        needed("kms", operation, **params)


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("SendMessage", "sqs:SendMessage"),
        ("SendMessageBatch", "sqs:SendMessage"),
        ("ReceiveMessage", "sqs:ReceiveMessage"),
        ("DeleteMessageBatch", "sqs:DeleteMessage"),
        ("ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility"),
        ("GetQueueAttributes", "sqs:GetQueueAttributes"),
    ],
)
def test_sqs_operations_are_on_the_queue(operation: str, action: str) -> None:
    (requirement,) = needed("sqs", operation, QueueUrl=QUEUE_URL)
    assert (requirement.action, requirement.resource) == (action, QUEUE)


def test_a_queue_url_that_is_not_sqss_is_unmapped() -> None:
    with pytest.raises(Unmapped):
        needed("sqs", "SendMessage", QueueUrl="http://127.0.0.1:5000/123456789012/timers")


def test_sqs_asks_kms_for_data_keys_for_the_sender_and_decrypts_for_the_receiver() -> None:
    def kms(action: str) -> list[tuple[str, str]]:
        found = key_requirements(
            Requirement(action, QUEUE), key_arn=KEY, region=R, account=ACCOUNT, encrypted=QUEUE
        )
        for requirement in found:
            assert requirement.context["kms:EncryptionContext:aws:sqs:arn"] == QUEUE
            assert requirement.context["kms:ViaService"] == f"sqs.{R}.amazonaws.com"
        return [(r.action, r.resource) for r in found]

    assert kms("sqs:SendMessage") == [("kms:GenerateDataKey", KEY), ("kms:Decrypt", KEY)]
    assert kms("sqs:ReceiveMessage") == [("kms:Decrypt", KEY)]
    assert kms("sqs:GetQueueAttributes") == []


@pytest.mark.parametrize(
    ("context", "allowed"),
    [
        (CONTEXT, True),
        ({}, False),  # ForAllValues alone would pass an empty context; Null false refuses it
        ({"key_id": "ak_1"}, False),
        ({**CONTEXT, "other": "x"}, False),
    ],
)
def test_the_api_key_grant_allows_only_the_api_keys_encryption_context(
    context: dict[str, str], allowed: bool
) -> None:
    (requirement,) = needed("kms", "Decrypt", KeyId=KEY, EncryptionContext=context)
    request = Request(requirement.action, requirement.resource, ROLE, ACCOUNT, requirement.context)
    decision = evaluate(request, Policies(identity=statements({"Statement": [API_KEY_GRANT]})))
    assert decision.allowed is allowed
    if not allowed:  # the context is known, so the refusal is certain, not "unknown"
        assert "implicit deny" in decision.reason


def test_a_replica_key_has_its_primary_keys_id_in_its_own_region() -> None:
    primary = StackTemplate(
        "p",
        "us-east-1",
        {
            "Resources": {"K": {"Type": "AWS::KMS::Key", "Properties": {"MultiRegion": True}}},
            "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["K", "Arn"]}}},
        },
    )
    replica_props = {
        "PrimaryKeyArn": {
            "Fn::GetStackOutput": {"StackName": "p", "Region": "us-east-1", "OutputName": "KeyArn"}
        },
        "KeyPolicy": {},
    }
    dr = StackTemplate(
        "d",
        "us-west-2",
        {"Resources": {"Rk": {"Type": "AWS::KMS::ReplicaKey", "Properties": replica_props}}},
    )
    stacks = Stacks([primary, dr], account=ACCOUNT)
    key = stacks.resolver("p").get_att("K", "Arn")
    replica = stacks.resolver("d").get_att("Rk", "Arn")
    key_id = key.rsplit("/", 1)[-1]
    assert key_id.startswith("mrk-")
    assert replica == f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{key_id}"


def test_the_local_queue_and_key_translate_to_the_deployed_ones() -> None:
    local = LocalNames.of_local_stack(
        api_key_kms_key_id="arn:aws:kms:us-east-1:123456789012:key/local-uuid",
        cancel_after_queue_url="http://127.0.0.1:5000/123456789012/exchange-cancel-after",
    )
    deployed = {"api_key_kms_key_id": {KEY}, "cancel_after_queue_url": {QUEUE_URL}}
    translation = Translation(local, deployed, R, ACCOUNT)

    def translate(service: str, operation: str, **params: Any) -> dict[str, Any]:
        return dict(translation.translate(Call("fn", service, operation, R, params)).params)

    assert (
        translate("sqs", "SendMessage", QueueUrl="http://localhost:5000/q/exchange-cancel-after")[
            "QueueUrl"
        ]
        == QUEUE_URL
    )
    assert translate("sqs", "GetQueueUrl", QueueName="exchange-cancel-after") == {
        "QueueName": "timers"
    }
    by_id = translate("kms", "Decrypt", KeyId="local-uuid", EncryptionContext=CONTEXT)
    assert by_id == {"KeyId": KEY, "EncryptionContext": CONTEXT}
    with pytest.raises(Untranslatable):  # another region's key is not the local stack's
        translate("kms", "Decrypt", KeyId="arn:aws:kms:eu-west-1:123456789012:key/local-uuid")
    with pytest.raises(Untranslatable):
        translate("sqs", "SendMessage", QueueUrl="http://127.0.0.1:5000/123456789012/other")
