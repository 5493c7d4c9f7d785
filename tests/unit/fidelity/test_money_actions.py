"""Money out's and notifications' calls -> (IAM action, resource), and the KMS requests their
services make: SNS ``Publish`` on the topic ("Amazon SNS data encryption": a publisher to an
encrypted topic needs GenerateDataKey and Decrypt), SES v2 ``SendEmail`` on the sender's identity
and the configuration set ("Actions, resources, and condition keys for Amazon Simple Email Service
v2"), Cognito ``ListUsers`` on the pool."""

from typing import Any

import pytest

from tests.fidelity.actions import Call, Requirement, Unmapped, key_requirements, requirements

ACCOUNT = "111122223333"
R = "us-east-1"
TOPIC = f"arn:aws:sns:{R}:{ACCOUNT}:exchange-prod-primary-notices"
SES = f"arn:aws:ses:{R}:{ACCOUNT}"


def needed(service: str, operation: str, **params: Any) -> list[tuple[str, str]]:
    call = Call("emailer", service, operation, R, params)
    return [(r.action, r.resource) for r in requirements(call, account=ACCOUNT)]


def test_publish_is_on_the_topic() -> None:
    assert needed("sns", "Publish", TopicArn=TOPIC) == [("sns:Publish", TOPIC)]
    with pytest.raises(Unmapped):
        needed("sns", "Publish")  # a phone number or a target ARN: not what the code does


def test_send_email_is_on_the_senders_domain_identity_and_the_configuration_set() -> None:
    assert needed(
        "sesv2",
        "SendEmail",
        FromEmailAddress="Exchange <no-reply@exchange.example>",
        ConfigurationSetName="exchange-prod-notices",
    ) == [
        ("ses:SendEmail", f"{SES}:identity/exchange.example"),
        ("ses:SendEmail", f"{SES}:configuration-set/exchange-prod-notices"),
    ]
    # Without a configuration set, the identity alone; an explicit identity ARN wins.
    identity = f"{SES}:identity/no-reply@exchange.example"
    assert needed(
        "sesv2",
        "SendEmail",
        FromEmailAddress="no-reply@exchange.example",
        FromEmailAddressIdentityArn=identity,
    ) == [("ses:SendEmail", identity)]
    with pytest.raises(Unmapped):
        needed("sesv2", "SendEmail")  # no sender: the identity cannot be told
    with pytest.raises(Unmapped):
        needed("sesv2", "CreateEmailIdentity", EmailIdentity="exchange.example")


def test_list_users_is_on_the_pool() -> None:
    assert needed("cognito-idp", "ListUsers", UserPoolId="us-east-1_abc") == [
        ("cognito-idp:ListUsers", f"arn:aws:cognito-idp:{R}:{ACCOUNT}:userpool/us-east-1_abc")
    ]


def test_publishing_to_an_encrypted_topic_asks_kms_for_a_data_key_and_decrypt() -> None:
    key = f"arn:aws:kms:{R}:{ACCOUNT}:key/k"
    found = key_requirements(
        Requirement("sns:Publish", TOPIC), key_arn=key, region=R, account=ACCOUNT, encrypted=TOPIC
    )
    assert [(r.action, r.resource) for r in found] == [
        ("kms:GenerateDataKey", key),
        ("kms:Decrypt", key),
    ]
    assert found[0].context["kms:ViaService"] == f"sns.{R}.amazonaws.com"
