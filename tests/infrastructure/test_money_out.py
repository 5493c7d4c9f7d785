"""Money out and notifications in both regions: the payout queue and the notifications queue with
their dead-letter queues, the notifications topic and its raw subscription, SES's identity and
configuration set, the payment provider's secret, and each new function's least-privilege role.

AWS pages pinned here: "Using Lambda with Amazon SQS" (a mapped queue's visibility timeout at least
six times the function's timeout; ReportBatchItemFailures), "Amazon SQS dead-letter queues"
(``RedrivePolicy`` ``maxReceiveCount``), "Amazon SNS raw message delivery" (``RawMessageDelivery``),
"Configure KMS permissions for Amazon SNS" (an encrypted queue's key lets ``sns.amazonaws.com``
GenerateDataKey and Decrypt), "Actions, resources, and condition keys for Amazon Simple Email
Service v2" (``ses:SendEmail`` on ``identity/<name>`` and ``configuration-set/<name>``), and
"Actions, resources, and condition keys for Amazon Cognito User Pools" (``cognito-idp:ListUsers``
on the pool).
"""

from typing import Any

import pytest

from lambdas.catalog import FUNCTIONS, FunctionSpec, Need, Trigger
from stacks.constructs.event_sources import QUEUE_BATCH_SIZES
from stacks.constructs.timers import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_FACTOR
from stacks.constructs.work_queues import DEAD_LETTER_RETENTION
from tests.infrastructure.conftest import (
    DR,
    MAIN_STACKS,
    PRIMARY,
    PRIMARY_BASE,
    Resources,
    flatten,
    of_type,
)
from tests.infrastructure.test_functions import as_list, function, function_id, role_statements
from tests.infrastructure.test_operator_controls import alarms_by_metric, statistic_of, topic_of

SPECS = list(FUNCTIONS.values())
CASES = [(stack, spec) for stack in MAIN_STACKS for spec in SPECS]
IDS = [f"{stack.split('-')[-1]}-{spec.name}" for stack, spec in CASES]
MAPPED: dict[str | None, FunctionSpec] = {
    spec.queue: spec for spec in SPECS if spec.trigger is Trigger.SQS
}


def mapped_queue(resources: Resources, spec: FunctionSpec) -> str:
    """The logical id of the queue ``spec``'s SQS event source mapping reads."""
    target = {"Ref": function_id(resources, spec)}
    (mapping,) = [
        r["Properties"]
        for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == target
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == QUEUE_BATCH_SIZES[str(spec.queue)]
    queue: str = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    return queue


def actions_on(resources: Resources, spec: FunctionSpec) -> dict[str, list[Any]]:
    """Action -> every resource the function's role is granted it on."""
    granted: dict[str, list[Any]] = {}
    for statement in role_statements(resources, spec):
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    return granted


def topic(resources: Resources) -> str:
    ((name, _),) = [
        (name, r)
        for name, r in of_type(resources, "AWS::SNS::Topic").items()
        if name.startswith("NotificationsTopic")
    ]
    return name


def test_every_sqs_function_names_its_own_queue() -> None:
    assert set(MAPPED) == {"cancel-after", "payouts", "notifications"}
    assert (MAPPED["payouts"].name, MAPPED["notifications"].name) == ("payouts", "emailer")


@pytest.mark.parametrize("stack", MAIN_STACKS)
@pytest.mark.parametrize("queue", ["payouts", "notifications"])
def test_each_work_queue_has_a_dead_letter_queue_and_six_timeouts_of_visibility(
    resources: dict[str, Resources], stack: str, queue: str
) -> None:
    spec = MAPPED[queue]
    found = mapped_queue(resources[stack], spec)
    props = resources[stack][found]["Properties"]
    assert props["VisibilityTimeout"] >= VISIBILITY_TIMEOUT_FACTOR * spec.timeout_seconds
    assert props["VisibilityTimeout"] == 6 * function(resources[stack], spec)["Timeout"]
    redrive = props["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == MAX_RECEIVE_COUNT == 5
    (dead_letters, _) = redrive["deadLetterTargetArn"]["Fn::GetAtt"]
    dead = resources[stack][dead_letters]["Properties"]
    assert dead["MessageRetentionPeriod"] == DEAD_LETTER_RETENTION.to_seconds() == 14 * 86400
    assert "RedrivePolicy" not in dead
    for name in (found, dead_letters):  # encrypted with the region's key, TLS only
        assert resources[stack][name]["Properties"]["KmsMasterKeyId"]
        (policy,) = [
            p["Properties"]
            for p in of_type(resources[stack], "AWS::SQS::QueuePolicy").values()
            if {"Ref": name} in p["Properties"]["Queues"]
        ]
        denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert [d["Condition"] for d in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]


@pytest.mark.parametrize("stack", MAIN_STACKS)
@pytest.mark.parametrize("spec", list(MAPPED.values()), ids=lambda spec: spec.name)
def test_a_mapping_never_invokes_more_than_its_functions_reserved_concurrency(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    """ "Configuring scaling behavior for SQS event source mappings": a mapping ignores reserved
    concurrency, so it throttles the function, and a throttled message goes back to the queue
    and counts as a receive (then dead-letters, unsent); the mapping's maximum concurrency (2 at
    least) no higher than the reserved concurrency is what prevents it."""
    target = {"Ref": function_id(resources[stack], spec)}
    (mapping,) = [
        r["Properties"]
        for r in of_type(resources[stack], "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == target
    ]
    reserved = function(resources[stack], spec).get("ReservedConcurrentExecutions")
    scaling = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
    if reserved is None:
        assert scaling is None, spec.name
    else:
        assert 2 <= scaling <= reserved, spec.name


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_topic_delivers_raw_notices_to_the_queue_only_it_may_send_to(
    resources: dict[str, Resources], stack: str
) -> None:
    found = resources[stack]
    name = topic(found)
    assert found[name]["Properties"]["KmsMasterKeyId"]
    queue = mapped_queue(found, MAPPED["notifications"])
    (subscription,) = [
        r["Properties"]
        for r in of_type(found, "AWS::SNS::Subscription").values()
        if r["Properties"]["TopicArn"] == {"Ref": name}
    ]
    assert subscription["Protocol"] == "sqs"
    assert subscription["Endpoint"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert subscription["RawMessageDelivery"] is True
    (policy,) = [
        p["Properties"]
        for p in of_type(found, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue} in p["Properties"]["Queues"]
    ]
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": name}}}


def test_the_data_key_lets_sns_encrypt_into_the_queue(resources: dict[str, Resources]) -> None:
    ((_, key),) = of_type(resources[PRIMARY_BASE], "AWS::KMS::Key").items()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    # (CDK merges it with CloudWatch's statement of the same actions and condition.)
    (sns,) = [
        s
        for s in statements
        if "sns.amazonaws.com" in as_list(s.get("Principal", {}).get("Service", []))
    ]
    assert set(as_list(sns["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "aws:SourceAccount" in sns["Condition"]["StringEquals"]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_ses_sends_from_the_domain_with_a_tls_only_configuration_set(
    resources: dict[str, Resources], stack: str
) -> None:
    ((set_id, config_set),) = of_type(resources[stack], "AWS::SES::ConfigurationSet").items()
    props = config_set["Properties"]
    assert props["Name"] == "exchange-prod-notices"
    assert props["DeliveryOptions"]["TlsPolicy"] == "REQUIRE"
    assert set(props["SuppressionOptions"]["SuppressedReasons"]) == {"BOUNCE", "COMPLAINT"}
    ((_, identity),) = of_type(resources[stack], "AWS::SES::EmailIdentity").items()
    assert identity["Properties"]["EmailIdentity"] == "exchange.example"
    assert identity["Properties"]["ConfigurationSetAttributes"] == {
        "ConfigurationSetName": {"Ref": set_id}
    }


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_new_needs_reach_exactly_their_resources(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    found = resources[stack]
    granted = actions_on(found, spec)
    env = function(found, spec)["Environment"]["Variables"]
    payouts = mapped_queue(found, MAPPED["payouts"])
    sends = [flatten(r) for r in granted.get("sqs:SendMessage", [])]
    assert (f"<{payouts}.Arn>" in sends) == (Need.PAYOUT_QUEUE in spec.needs), spec.name
    if Need.PAYOUT_QUEUE in spec.needs:
        assert env["EXCHANGE_PAYOUT_QUEUE_URL"] == {"Ref": payouts}
    published = granted.get("sns:Publish", [])
    if Need.NOTIFICATIONS_TOPIC in spec.needs:
        assert published == [{"Ref": topic(found)}]
        assert env["EXCHANGE_NOTIFICATIONS_TOPIC_ARN"] == {"Ref": topic(found)}
    else:
        assert not published
    emails = [flatten(r) for r in granted.get("ses:SendEmail", [])]
    if Need.EMAIL in spec.needs:
        region = "us-east-1" if stack == PRIMARY else "us-west-2"
        assert sorted(r.rsplit(":", 1)[-1] for r in emails) == [
            "configuration-set/exchange-prod-notices",
            "identity/exchange.example",
        ]
        assert all(f":ses:{region}:" in r for r in emails), emails
        assert env["EXCHANGE_EMAIL_SENDER"] == "no-reply@exchange.example"
    else:
        assert not emails
    listed = granted.get("cognito-idp:ListUsers", [])
    assert bool(listed) == (Need.USER_DIRECTORY in spec.needs)
    if Need.USER_DIRECTORY in spec.needs:
        assert len(listed) == 1
        # The pool lives in the primary region; DR's emailer is told so.
        assert env["EXCHANGE_USER_POOL_REGION"] == "us-east-1"
    reads = [flatten(r) for r in granted.get("secretsmanager:GetSecretValue", [])]
    provider = [r for r in reads if "PayoutProviderSecret" in r or "payouts-provider" in r]
    assert bool(provider) == (Need.PAYOUT_PROVIDER in spec.needs), spec.name
    if Need.PAYOUT_PROVIDER in spec.needs:
        assert env["EXCHANGE_PAYOUT_PROVIDER_URL"] == "https://payouts.provider.example"


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_payout_worker_only_reads_its_queue_and_the_sweeper_only_sends(
    resources: dict[str, Resources], stack: str
) -> None:
    found = resources[stack]
    payouts = mapped_queue(found, MAPPED["payouts"])
    worker = actions_on(found, FUNCTIONS["payouts"])
    assert {"<" + payouts + ".Arn>"} == {flatten(r) for r in worker["sqs:ReceiveMessage"]}
    assert "sqs:SendMessage" not in worker
    sweeper = actions_on(found, FUNCTIONS["payout_sweeper"])
    assert "sqs:ReceiveMessage" not in sweeper
    # The worker calls the provider over the internet: it runs in the VPC's private subnets,
    # which route through NAT (the ledger is why it is in the VPC at all).
    assert "VpcConfig" in function(found, FUNCTIONS["payouts"])
    assert of_type(found, "AWS::EC2::NatGateway")


def test_the_provider_secret_is_created_in_the_primary_and_replicated_to_dr(
    resources: dict[str, Resources],
) -> None:
    secrets = [
        r["Properties"]
        for r in of_type(resources[PRIMARY], "AWS::SecretsManager::Secret").values()
        if r["Properties"].get("Name") == "exchange-prod-payouts-provider"
    ]
    (secret,) = secrets
    assert [r["Region"] for r in secret["ReplicaRegions"]] == ["us-west-2"]
    assert secret["KmsKeyId"]
    assert not [
        r
        for r in of_type(resources[DR], "AWS::SecretsManager::Secret").values()
        if r["Properties"].get("Name") == "exchange-prod-payouts-provider"
    ]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_stuck_payouts_dead_letters_and_failing_money_functions_page(
    resources: dict[str, Resources], stack: str
) -> None:
    topic_ref = topic_of(resources, stack)
    alarms = alarms_by_metric(resources, stack)
    stuck = alarms[("Exchange", "PayoutsStuck", (("service", "payout_sweeper"),))]
    assert statistic_of(stuck) == ("Sum", 300)
    assert (stuck["Threshold"], stuck["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    # DR's sweeper is disabled until failover: no data is no breach.
    assert stuck["TreatMissingData"] == "notBreaching"
    for service in ("deposits", "payouts"):  # the provider contradicts the books
        contradicted = alarms[("Exchange", "PayoutsContradicted", (("service", service),))]
        assert statistic_of(contradicted) == ("Sum", 300)
        assert contradicted["Threshold"] == 0
        assert contradicted["AlarmActions"] == [topic_ref]
    for queue in ("payouts", "notifications"):
        dead_letters = resources[stack][mapped_queue(resources[stack], MAPPED[queue])][
            "Properties"
        ]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        key = (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            (("QueueName", f"<{dead_letters}.QueueName>"),),
        )
        assert alarms[key]["Threshold"] == 0, queue
        assert alarms[key]["AlarmActions"] == [topic_ref]
    # An outage of the provider or of SES: failed sends are reported back to SQS, not raised.
    for metric, service in (("PayoutsUnavailable", "payouts"), ("NoticesNotSent", "emailer")):
        outage = alarms[("Exchange", metric, (("service", service),))]
        assert statistic_of(outage) == ("Sum", 900)
        assert (outage["Threshold"], outage["ComparisonOperator"]) == (4, "GreaterThanThreshold")
    for name in ("payouts", "emailer"):
        dimensions = (("FunctionName", f"<{function_id(resources[stack], FUNCTIONS[name])}>"),)
        errors = [
            props
            for (namespace, metric, dims), props in alarms.items()
            if (namespace, metric, dims) == ("AWS/Lambda", "Errors", dimensions)
            and props["Threshold"] == 0
        ]
        assert len(errors) == 1, name
