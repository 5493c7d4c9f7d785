"""The deployment model, the local -> deployed translation and the check, on a small template with
the shapes the CDK app synthesizes (a role and its ``AWS::IAM::Policy`` per function, a global
table and a secret under a customer managed key in the region's base stack, an engine task role)."""

from typing import Any

import pytest

from local import aws as local_aws
from tests.fidelity.actions import Call
from tests.fidelity.cfn import Stacks, StackTemplate
from tests.fidelity.check import check
from tests.fidelity.deployment import Deployment, without_action
from tests.fidelity.translate import MOTO_ACCOUNT, LocalNames, Translation, Untranslatable

KEY_OUTPUT = {
    "Fn::GetStackOutput": {"StackName": "base", "Region": "us-east-1", "OutputName": "Key"}
}
BASE = {
    "Resources": {
        "DataKey": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": {
                                    "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
                                }
                            },
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ]
                }
            },
        }
    },
    "Outputs": {"Key": {"Value": {"Fn::GetAtt": ["DataKey", "Arn"]}}},
}
TABLE_ARN = {
    "Fn::Sub": "arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/exchange-test-orders"
}


def role_and_policy(name: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        f"{name}Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        f"{name}Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyDocument": {"Statement": statements},
                "Roles": [{"Ref": f"{name}Role"}],
            },
        },
    }


def function(name: str, role: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": f"exchange-test-{name}",
            "Role": {"Fn::GetAtt": [f"{role}Role", "Arn"]},
            "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": name, **variables}},
        },
    }


APP: dict[str, Any] = {
    "Resources": {
        "Orders": {
            "Type": "AWS::DynamoDB::GlobalTable",
            "Properties": {
                "TableName": "exchange-test-orders",
                "Replicas": [
                    {"Region": "us-east-1", "SSESpecification": {"KMSMasterKeyId": KEY_OUTPUT}}
                ],
            },
        },
        "Webhook": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {"Name": "exchange-test-deposits-webhook", "KmsKeyId": KEY_OUTPUT},
        },
        "Journal": {
            "Type": "AWS::Kinesis::Stream",
            "Properties": {
                "Name": "exchange-test-events",
                "StreamEncryption": {"EncryptionType": "KMS", "KeyId": KEY_OUTPUT},
            },
        },
        **role_and_policy(
            "Orders",
            [
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                    "Resource": [TABLE_ARN, {"Fn::Join": ["", [TABLE_ARN, "/index/open_orders"]]}],
                },
                {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY_OUTPUT},
            ],
        ),
        **role_and_policy(
            "Deposits",
            [
                {
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": {"Ref": "Webhook"},
                }
            ],
        ),
        **role_and_policy(
            "Engine",
            [
                {
                    "Effect": "Allow",
                    "Action": "kinesis:PutRecords",
                    "Resource": {"Fn::GetAtt": ["Journal", "Arn"]},
                },
                {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": KEY_OUTPUT},
            ],
        ),
        "OrdersFunction": function(
            "orders", "Orders", {"EXCHANGE_ORDERS_TABLE": {"Ref": "Orders"}}
        ),
        "DepositsFunction": function(
            "deposits", "Deposits", {"EXCHANGE_LEDGER_WEBHOOK_SECRET_ARN": {"Ref": "Webhook"}}
        ),
        "EngineTask": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": "exchange-test-engine-s1",
                "TaskRoleArn": {"Fn::GetAtt": ["EngineRole", "Arn"]},
                "ContainerDefinitions": [
                    {
                        "Environment": [
                            {"Name": "POWERTOOLS_SERVICE_NAME", "Value": "engine"},
                            {"Name": "EXCHANGE_JOURNAL_STREAM", "Value": {"Ref": "Journal"}},
                        ]
                    }
                ],
            },
        },
    }
}
LOCAL_SECRET = (
    f"arn:aws:secretsmanager:us-east-1:{MOTO_ACCOUNT}:secret:{local_aws.WEBHOOK_SECRET_NAME}-xY12Zw"
)


def deployment_of(app: dict[str, Any]) -> Deployment:
    stacks = Stacks(
        [StackTemplate("base", "us-east-1", BASE), StackTemplate("app", "us-east-1", app)]
    )
    return Deployment(stacks, "app")


@pytest.fixture
def deployment() -> Deployment:
    return deployment_of(APP)


@pytest.fixture
def translation(deployment: Deployment) -> Translation:
    local = LocalNames.of_local_stack(api_url="http://127.0.0.1:8000")
    return Translation.of(local, deployment)


def call(principal: str | None, service: str, operation: str, **params: Any) -> Call:
    return Call(principal, service, operation, local_aws.REGION, params)


def test_principals_and_their_roles(deployment: Deployment) -> None:
    (orders,) = deployment.roles_of("orders")
    assert orders.logical == "OrdersRole"
    assert orders.identity[0].actions == (
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
    )
    assert deployment.roles_of("esm:orders") == [orders]  # a mapping reads with the function's role
    assert [r.logical for r in deployment.roles_of("engine")] == ["EngineRole"]
    assert deployment.roles_of("nobody") == []


def test_the_translation_table(translation: Translation) -> None:
    rows = {(row.kind, row.local): row for row in translation.rows()}
    assert rows["table", "exchange-orders"].deployed == "exchange-test-orders"
    assert rows["stream", local_aws.JOURNAL_STREAM].deployed == "exchange-test-events"
    webhook = rows["secret", local_aws.WEBHOOK_SECRET_NAME].deployed
    assert webhook is not None
    assert webhook.startswith(
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:exchange-test-deposits-webhook-"
    )
    # A local table this template names nowhere has no counterpart, and says why.
    assert rows["table", "exchange-fills"].deployed is None
    assert rows["table", "exchange-fills"].why == "the template sets it nowhere"


def test_calls_translate_to_the_deployment(translation: Translation) -> None:
    put = translation.translate(call("orders", "dynamodb", "PutItem", TableName="exchange-orders"))
    assert (put.region, put.params) == ("us-east-1", {"TableName": "exchange-test-orders"})
    read = translation.translate(
        call("deposits", "secretsmanager", "GetSecretValue", SecretId=LOCAL_SECRET)
    )
    assert str(read.params["SecretId"]).startswith(
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:exchange-test-"
    )
    stream = f"arn:aws:kinesis:us-east-1:{MOTO_ACCOUNT}:stream/{local_aws.JOURNAL_STREAM}"
    records = translation.translate(call("engine", "kinesis", "PutRecords", StreamARN=stream))
    assert records.params == {
        "StreamARN": "arn:aws:kinesis:us-east-1:111122223333:stream/exchange-test-events"
    }


@pytest.mark.parametrize(
    "untranslatable",
    [
        call("orders", "dynamodb", "PutItem", TableName="somebody-elses"),
        call("orders", "dynamodb", "PutItem", TableName="exchange-fills"),  # no deployed value
        call("orders", "sqs", "SendMessage", QueueUrl="https://sqs/q"),
        call("engine", "kinesis", "PutRecords", StreamARN="arn:aws:kinesis:eu-west-1:1:stream/x"),
        Call("orders", "dynamodb", "PutItem", "eu-west-1", {"TableName": "exchange-orders"}),
        Call(
            "fanout",
            "apigatewaymanagementapi",
            "PostToConnection",
            "us-east-1",
            {"ConnectionId": "c"},
            "http://elsewhere/live",
        ),
    ],
)
def test_what_has_no_counterpart_is_reported(
    translation: Translation, untranslatable: Call
) -> None:
    with pytest.raises(Untranslatable):
        translation.translate(untranslatable)


def test_the_check(deployment: Deployment, translation: Translation) -> None:
    calls = [
        call("orders", "dynamodb", "PutItem", TableName="exchange-orders"),
        call("orders", "dynamodb", "Query", TableName="exchange-orders", IndexName="open_orders"),
        call("orders", "dynamodb", "PutItem", TableName="exchange-orders"),  # the same triple again
        call("engine", "kinesis", "PutRecords", StreamName=local_aws.JOURNAL_STREAM),
        call(None, "dynamodb", "CreateTable", TableName="exchange-orders"),
    ]
    report = check(calls, deployment, translation)
    assert report.problems == []
    assert report.calls == 5
    assert report.unattributed == {("dynamodb", "CreateTable"): 1}
    actions = sorted({(principal, action) for principal, action, _ in report.triples})
    assert actions == [
        ("engine", "kinesis:PutRecords"),
        ("engine", "kms:GenerateDataKey"),  # the stream is under the data key
        ("orders", "dynamodb:PutItem"),
        ("orders", "dynamodb:Query"),
        ("orders", "kms:Decrypt"),  # so is the table
    ]


def test_the_check_fails_what_the_deployment_would_refuse(
    deployment: Deployment, translation: Translation
) -> None:
    calls = [
        call("orders", "dynamodb", "DeleteItem", TableName="exchange-orders"),
        # The secret is readable, its key is not: GetSecretValue fails in AWS.
        call("deposits", "secretsmanager", "GetSecretValue", SecretId=LOCAL_SECRET),
        call("orders", "dynamodb", "ExecuteStatement"),
        call("ghost", "dynamodb", "GetItem", TableName="exchange-orders"),
        call("orders", "dynamodb", "GetItem", TableName="exchange-fills"),
    ]
    report = check(calls, deployment, translation)
    denied = sorted((principal, action) for principal, action, _ in report.denied)
    assert denied == [("deposits", "kms:Decrypt"), ("orders", "dynamodb:DeleteItem")]
    assert [f.what for f in report.unmapped] == ["dynamodb.ExecuteStatement {}"]
    assert report.unknown_principals == {"ghost"}
    assert len(report.untranslatable) == 1
    assert len(report.problems) == 5
    assert "2 denied" in report.summary()


def test_removing_a_permission_from_the_template_denies_the_call(translation: Translation) -> None:
    put = [call("orders", "dynamodb", "PutItem", TableName="exchange-orders")]
    assert check(put, deployment_of(APP), translation).problems == []
    stripped = without_action(
        {"app": APP}, "app", "orders", "dynamodb:PutItem", "exchange-test-orders"
    )
    assert "dynamodb:PutItem" in repr(APP)  # the original is left as it was
    report = check(put, deployment_of(stripped["app"]), translation)
    assert [action for _, action, _ in report.denied] == ["dynamodb:PutItem"]
    with pytest.raises(LookupError):
        without_action({"app": APP}, "app", "deposits", "dynamodb:PutItem", "exchange-test-orders")
