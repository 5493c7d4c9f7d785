"""What API keys and the dead man's switch add to each region: the multi-Region KMS key of keys'
secrets (primary and replica) and the roles that may use it, and only with the api_keys
encryption context; the timer queue, its dead-letter queue, its event source mapping, its sender
and its alarms; and the VPC functions that push to WebSocket connections reaching the Management
API through NAT, as fan-out does."""

from typing import Any

import pytest

from lambdas.catalog import FUNCTIONS, FunctionSpec, Need
from stacks.constructs.event_sources import TIMER_BATCH_SIZE
from stacks.constructs.grants import API_KEY_CONTEXT_KEYS
from stacks.constructs.monitoring import TIMER_AGE_LIMIT_SECONDS
from stacks.constructs.timers import MAX_DELAY_SECONDS, MAX_RECEIVE_COUNT
from tests.infrastructure.conftest import (
    DR,
    MAIN_STACKS,
    PRIMARY,
    Resources,
    flatten,
    of_type,
    watched,
)
from tests.infrastructure.test_functions import (
    VPC_NEEDS,
    as_list,
    function,
    function_id,
    role_statements,
)
from tests.infrastructure.test_monitoring import metric_of
from tests.infrastructure.test_operator_controls import topic_of

SPECS = list(FUNCTIONS.values())
CASES = [(stack, spec) for stack in MAIN_STACKS for spec in SPECS]
IDS = [f"{stack.split('-')[-1]}-{spec.name}" for stack, spec in CASES]
KEY_ALIAS = "alias/serverless-exchange/prod/api-keys"
(TIMER_CONSUMER,) = [spec for spec in SPECS if spec.queue == "cancel-after"]


def api_key_key(resources: Resources) -> tuple[str, dict[str, Any]]:
    """The API-key key of the stack: the primary key, or the DR region's replica."""
    ((alias_id, alias),) = [
        (name, r)
        for name, r in of_type(resources, "AWS::KMS::Alias").items()
        if r["Properties"]["AliasName"] == KEY_ALIAS
    ]
    target = alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]
    assert alias_id
    return target, resources[target]


def timer_queues(resources: Resources) -> tuple[str, str]:
    """(the timer queue, its dead-letter queue): the timers' queue with a redrive policy, and its
    target."""
    ((queue, props),) = [
        (name, r["Properties"])
        for name, r in of_type(resources, "AWS::SQS::Queue").items()
        if "RedrivePolicy" in r["Properties"] and name.startswith("CancelAfterTimers")
    ]
    return queue, props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]


def test_the_primary_holds_a_rotated_multi_region_key_for_api_keys_secrets(
    resources: dict[str, Resources],
) -> None:
    # "Multi-Region keys in AWS KMS": MultiRegion makes a primary key that replicas share key
    # material and key id with; "Rotating multi-Region keys": rotation is set on the primary.
    _, key = api_key_key(resources[PRIMARY])
    assert key["Type"] == "AWS::KMS::Key"
    props = key["Properties"]
    assert props["MultiRegion"] is True
    assert props["EnableKeyRotation"] is True
    assert props["PendingWindowInDays"] == 30
    assert key["DeletionPolicy"] == "Retain"  # prod retains data; a deleted key loses it
    # The key policy lets the account's IAM decide; no service or other account is named.
    (statement,) = props["KeyPolicy"]["Statement"]
    assert flatten(statement["Principal"]["AWS"]) == "arn:aws:iam::<AWS::AccountId>:root"


def test_the_dr_region_replicates_the_primary_key_so_its_authorizers_decrypt_the_global_table(
    resources: dict[str, Resources],
) -> None:
    # AWS::KMS::ReplicaKey: PrimaryKeyArn names the multi-Region primary key in another region.
    replica_id, replica = api_key_key(resources[DR])
    assert replica["Type"] == "AWS::KMS::ReplicaKey"
    assert replica["DeletionPolicy"] == "Retain"
    reference = replica["Properties"]["PrimaryKeyArn"]["Fn::GetStackOutput"]
    assert (reference["StackName"], reference["Region"]) == (PRIMARY, "us-east-1")
    primary_id, _ = api_key_key(resources[PRIMARY])
    assert primary_id in reference["OutputName"]
    for spec in SPECS:
        if spec.needs & {Need.API_KEY_ENCRYPT, Need.API_KEY_DECRYPT}:
            env = function(resources[DR], spec)["Environment"]["Variables"]
            assert env["EXCHANGE_API_KEY_KMS_KEY_ID"] == {"Fn::GetAtt": [replica_id, "Arn"]}


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_only_api_key_functions_use_the_key_and_only_with_the_api_keys_context(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    """ "AWS KMS condition keys": ForAllValues:StringEquals on kms:EncryptionContextKeys allows no
    other context key, and Null false on kms:EncryptionContext:<key> requires each one (an
    empty context would satisfy ForAllValues alone)."""
    key_id, _ = api_key_key(resources[stack])
    arn = {"Fn::GetAtt": [key_id, "Arn"]}
    on_key = [s for s in role_statements(resources[stack], spec) if arn in as_list(s["Resource"])]
    granted = {action for s in on_key for action in as_list(s["Action"])}
    expected = set()
    if Need.API_KEY_ENCRYPT in spec.needs:
        expected.add("kms:Encrypt")
    if Need.API_KEY_DECRYPT in spec.needs:
        expected.add("kms:Decrypt")
    assert granted == expected
    for statement in on_key:
        assert as_list(statement["Resource"]) == [arn]
        assert statement["Condition"] == {
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["account_id", "key_id"]},
            "Null": {
                "kms:EncryptionContext:account_id": "false",
                "kms:EncryptionContext:key_id": "false",
            },
        }
    assert API_KEY_CONTEXT_KEYS == ("account_id", "key_id")


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_timer_queue_gives_the_consumer_six_timeouts_and_dead_letters_after_five_tries(
    resources: dict[str, Resources], stack: str
) -> None:
    # "Using Lambda with Amazon SQS": the queue's visibility timeout at least six times the
    # function's timeout (Lambda refuses a mapping whose function timeout exceeds it); a
    # redrive policy moves a message received maxReceiveCount times to the dead-letter queue.
    queue, dead_letters = timer_queues(resources[stack])
    props = resources[stack][queue]["Properties"]
    consumer_timeout = function(resources[stack], TIMER_CONSUMER)["Timeout"]
    assert props["VisibilityTimeout"] >= 6 * consumer_timeout
    assert props["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT == 5
    # A timer must outlive its delay plus every receive the redrive allows (each failed one is
    # back after at most the visibility timeout), or it would expire before the dead-letter queue.
    assert props["MessageRetentionPeriod"] > (
        MAX_DELAY_SECONDS + MAX_RECEIVE_COUNT * props["VisibilityTimeout"]
    )
    assert resources[stack][dead_letters]["Properties"]["MessageRetentionPeriod"] == 14 * 86400


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_cancel_after_function_reads_the_timers_in_batches_reporting_each_failure(
    resources: dict[str, Resources], stack: str
) -> None:
    # "Handling errors for an SQS event source in Lambda": with ReportBatchItemFailures only the
    # messages the function names go back to the queue; a batching window of 0 invokes as soon as
    # a timer falls due.
    queue, _ = timer_queues(resources[stack])
    (mapping,) = [
        r["Properties"]
        for r in of_type(resources[stack], "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    ]
    assert mapping["FunctionName"] == {"Ref": function_id(resources[stack], TIMER_CONSUMER)}
    assert mapping["BatchSize"] == TIMER_BATCH_SIZE == 10
    assert mapping["MaximumBatchingWindowInSeconds"] == 0
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    actions = {
        a for s in role_statements(resources[stack], TIMER_CONSUMER) for a in as_list(s["Action"])
    }
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} <= actions


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_only_the_orders_function_sends_timers_and_only_to_the_timer_queue(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    queue, dead_letters = timer_queues(resources[stack])
    timers = [{"Fn::GetAtt": [queue, "Arn"]}, {"Fn::GetAtt": [dead_letters, "Arn"]}]
    statements = list(role_statements(resources[stack], spec))
    sends = [
        s
        for s in statements
        if "sqs:SendMessage" in as_list(s["Action"])
        and any(arn in as_list(s["Resource"]) for arn in timers)
    ]
    env = function(resources[stack], spec)["Environment"]["Variables"]
    if Need.CANCEL_AFTER_QUEUE not in spec.needs:
        assert not sends
        assert "EXCHANGE_CANCEL_AFTER_QUEUE_URL" not in env
        return
    assert [as_list(s["Resource"]) for s in sends] == [[{"Fn::GetAtt": [queue, "Arn"]}]]
    assert env["EXCHANGE_CANCEL_AFTER_QUEUE_URL"] == {"Ref": queue}
    # Sending to a queue under a customer managed key takes GenerateDataKey and Decrypt on it.
    region_key = resources[stack][queue]["Properties"]["KmsMasterKeyId"]
    on_key = {
        a for s in statements if region_key in as_list(s["Resource"]) for a in as_list(s["Action"])
    }
    assert {"kms:GenerateDataKey", "kms:Decrypt"} <= on_key


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_dead_lettered_and_late_timers_page(resources: dict[str, Resources], stack: str) -> None:
    queue, dead_letters = timer_queues(resources[stack])
    topic = topic_of(resources, stack)["Ref"]
    found = {}
    for alarm in of_type(watched(resources, stack), "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        namespace, metric, dimensions = metric_of(props)
        if namespace == "AWS/SQS":
            found[(metric, flatten(dimensions["QueueName"]))] = props
    dead = found[("ApproximateNumberOfMessagesVisible", f"<{dead_letters}.QueueName>")]
    assert (dead["Threshold"], dead["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    late = found[("ApproximateAgeOfOldestMessage", f"<{queue}.QueueName>")]
    # A timer is delayed at most 900 s ("Amazon SQS message timers"): older than that, it is late.
    assert late["Threshold"] == TIMER_AGE_LIMIT_SECONDS > MAX_DELAY_SECONDS == 900
    for props in (dead, late):
        assert props["AlarmActions"] == [{"Ref": topic}]


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_vpc_functions_that_push_to_websockets_reach_the_management_api_through_nat(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    # The Management API is public (https://{api}.execute-api.{region}.amazonaws.com): a VPC
    # function reaches it from the private subnets through the NAT gateways, as fan-out does. An
    # execute-api interface endpoint with private DNS would capture that name and serve only
    # private APIs ("Private REST APIs in API Gateway"), so the VPC must have none.
    endpoints = of_type(resources[stack], "AWS::EC2::VPCEndpoint").values()
    assert not [e for e in endpoints if "execute-api" in flatten(e["Properties"]["ServiceName"])]
    if Need.WS_MANAGEMENT not in spec.needs or not spec.needs & VPC_NEEDS:
        return
    vpc = function(resources[stack], spec)["VpcConfig"]
    assert vpc["SubnetIds"]
    assert all("privateSubnet" in subnet["Ref"] for subnet in vpc["SubnetIds"])
    routes = of_type(resources[stack], "AWS::EC2::Route").values()
    nat_routes = {
        flatten(r["Properties"]["RouteTableId"]).split("RouteTable")[0]
        for r in routes
        if "NatGatewayId" in r["Properties"]
    }
    assert len(nat_routes) == len(vpc["SubnetIds"])
    (group,) = vpc["SecurityGroupIds"]
    egress = resources[stack][group["Fn::GetAtt"][0]]["Properties"]["SecurityGroupEgress"]
    assert {"CidrIp": "0.0.0.0/0", "IpProtocol": "-1"} in [
        {k: e[k] for k in ("CidrIp", "IpProtocol")} for e in egress
    ]
