"""The intrinsic resolver: every function and pseudo parameter the synthesized templates use,
resolved as CloudFormation documents them ("Intrinsic function reference", "Pseudo parameters
reference"), with physical names in each service's documented ARN format."""

from typing import Any

import pytest

from tests.fidelity.cfn import (
    ACCOUNT,
    Physical,
    Resolver,
    Stacks,
    StackTemplate,
    UnresolvedIntrinsic,
)

BASE = {
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}},
    },
    "Outputs": {
        "KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "base-key-arn"}},
    },
}
MAIN: dict[str, Any] = {
    "Parameters": {
        "Size": {"Type": "Number", "Default": "3"},
        "Ami": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/aws/ami"},
    },
    "Mappings": {"Regions": {"us-east-1": {"Short": "use1"}}},
    "Conditions": {
        "InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
        "NotInUsEast1": {"Fn::Not": [{"Condition": "InUsEast1"}]},
    },
    "Resources": {
        "Orders": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {"TableName": "t-orders"}},
        "Journal": {"Type": "AWS::Kinesis::Stream", "Properties": {"Name": "journal"}},
        "Unnamed": {"Type": "AWS::Kinesis::Stream", "Properties": {}},
        "Webhook": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "hooks/deposit"}},
        "Attachment": {
            "Type": "AWS::SecretsManager::SecretTargetAttachment",
            "Properties": {"SecretId": {"Ref": "Webhook"}},
        },
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "snapshots"}},
        "Ws": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
        "Broker": {"Type": "AWS::AmazonMQ::Broker", "Properties": {}},
        "Loop": {"Type": "AWS::Kinesis::Stream", "Properties": {"Name": {"Ref": "Loop"}}},
    },
}


@pytest.fixture
def stacks() -> Stacks:
    return Stacks(
        [
            StackTemplate("base", "us-east-1", BASE),
            StackTemplate("main", "us-east-1", MAIN),
            StackTemplate("far", "eu-west-1", {"Resources": {}}),
        ]
    )


@pytest.fixture
def main(stacks: Stacks) -> Resolver:
    return stacks.resolver("main")


def test_pseudo_parameters_and_parameters(main: Resolver) -> None:
    assert main.resolve({"Ref": "AWS::Partition"}) == "aws"
    assert main.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert main.resolve({"Ref": "AWS::AccountId"}) == ACCOUNT
    assert main.resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    assert main.resolve({"Ref": "AWS::StackName"}) == "main"
    assert main.resolve({"Ref": "Size"}) == "3"
    # An SSM-typed parameter's value lives in SSM: a placeholder, listed as one.
    assert main.resolve({"Ref": "Ami"}) == "<ssm:/aws/ami>"
    assert "ssm:/aws/ami" in main.placeholders


def test_join_sub_select_split(main: Resolver) -> None:
    joined = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "Bucket"}]]}
    assert main.resolve(joined) == "arn:aws:s3:::snapshots"
    assert main.resolve({"Fn::Sub": "${AWS::Region}/${Orders.Arn}/${!Literal}"}) == (
        f"us-east-1/arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t-orders/${{Literal}}"
    )
    assert main.resolve({"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Journal"}}]}) == "journal-x"
    assert main.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert main.resolve({"Fn::Select": ["0", ["only"]]}) == "only"


def test_names_and_arns_in_each_services_format(main: Resolver) -> None:
    assert main.resolve({"Ref": "Orders"}) == "t-orders"
    assert main.resolve({"Fn::GetAtt": ["Journal", "Arn"]}) == (
        f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/journal"
    )
    # A secret's ARN ends in "-" and six random characters ("Secrets Manager ARNs").
    webhook = main.resolve({"Ref": "Webhook"})
    assert webhook.startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:hooks/deposit-")
    assert len(webhook.rsplit("-", 1)[1]) == 6
    assert main.resolve({"Ref": "Attachment"}) == webhook  # Ref of an attachment: the secret
    assert main.resolve({"Fn::GetAtt": "Role.Arn"}).startswith(f"arn:aws:iam::{ACCOUNT}:role/")
    # An unnamed resource gets one generated name, the same at every reference.
    assert main.resolve({"Ref": "Unnamed"}) == main.resolve({"Ref": "Unnamed"})
    assert main.resolve({"Ref": "Unnamed"}).startswith("main-Unnamed-")
    endpoint = main.resolve({"Fn::GetAtt": ["Ws", "ApiEndpoint"]})
    assert endpoint == f"wss://{main.resolve({'Ref': 'Ws'})}.execute-api.us-east-1.amazonaws.com"


def test_undocumented_attributes_become_listed_placeholders(main: Resolver) -> None:
    value = main.resolve({"Fn::Select": [0, {"Fn::GetAtt": ["Broker", "AmqpEndpoints"]}]})
    assert value == "<Broker.AmqpEndpoints[0]>"
    assert {"Broker.AmqpEndpoints", "Broker.AmqpEndpoints[0]"} <= main.placeholders


def test_outputs_and_exports_of_other_stacks(main: Resolver, stacks: Stacks) -> None:
    key_arn = stacks.resolver("base").resolve({"Fn::GetAtt": ["Key", "Arn"]})
    assert key_arn.startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    output = {"StackName": "base", "Region": "us-east-1", "OutputName": "KeyArn"}
    assert main.resolve({"Fn::GetStackOutput": output}) == key_arn
    assert main.resolve({"Fn::ImportValue": "base-key-arn"}) == key_arn
    with pytest.raises(UnresolvedIntrinsic, match="is in us-east-1"):
        main.resolve({"Fn::GetStackOutput": {**output, "Region": "eu-west-1"}})
    with pytest.raises(UnresolvedIntrinsic, match="no stack"):
        main.resolve({"Fn::GetStackOutput": {**output, "StackName": "nope"}})


def test_mappings_conditions_and_no_value(main: Resolver) -> None:
    assert main.resolve({"Fn::FindInMap": ["Regions", {"Ref": "AWS::Region"}, "Short"]}) == "use1"
    assert main.resolve({"Fn::If": ["InUsEast1", "yes", "no"]}) == "yes"
    assert main.resolve({"Fn::If": ["NotInUsEast1", "yes", "no"]}) == "no"
    assert main.resolve(["a", {"Ref": "AWS::NoValue"}, "b"]) == ["a", "b"]
    assert main.resolve({"Keep": 1, "Drop": {"Ref": "AWS::NoValue"}}) == {"Keep": 1}


def test_physical_overrides(stacks: Stacks) -> None:
    given = Stacks(
        stacks.stacks.values(),
        physical={"main": {"Orders": Physical("real-orders", {"Arn": "arn:real"})}},
    )
    assert given.resolver("main").resolve({"Ref": "Orders"}) == "real-orders"
    assert given.resolver("main").resolve({"Fn::GetAtt": ["Orders", "Arn"]}) == "arn:real"


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::GetAZs": ""},
        {"Ref": "Missing"},
        {"Ref": "Loop"},
        {"Fn::Select": [5, ["a"]]},
        {"Fn::FindInMap": ["Regions", "eu-west-1", "Short"]},
        {"Fn::If": ["Nope", "a", "b"]},
    ],
)
def test_what_cannot_be_resolved_says_so(main: Resolver, value: Any) -> None:
    with pytest.raises(UnresolvedIntrinsic):
        main.resolve(value)
