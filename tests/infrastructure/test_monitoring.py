"""A dashboard per region with the issue's widgets, alarms on what pages, and Route 53 failover
only when a hosted zone is configured."""

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk.assertions import Template

from exchange.messaging import ShardMap
from lambdas.catalog import FUNCTIONS, Trigger
from stacks import constants
from stacks.constructs.dns import ApiFailoverRecord
from tests.infrastructure.conftest import MAIN_STACKS, Resources, flatten, of_type

WIDGETS = (
    "API latency p99 (ms)",
    "API 4xx / 5xx",
    "Lambda errors",
    "Lambda throttles",
    "Lambda duration p99 (ms)",
    "Engine commands/s",
    "Journal write latency p99 (ms)",
    "Engine recovery time (ms)",
    "Kinesis consumer iterator age (ms)",
    "Journal gaps / quarantined records",
    "Dead letters / orders reconciled / stuck",
    "Snapshot store failures / refused snapshots",
    "MQ command queue depth",
    "DynamoDB throttles",
    "Aurora CPU (%)",
    "Aurora connections",
)


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_dashboard_shows_every_figure_the_operators_watch(
    resources: dict[str, Resources], stack: str
) -> None:
    ((_, dashboard),) = of_type(resources[stack], "AWS::CloudWatch::Dashboard").items()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for title in WIDGETS:
        assert json.dumps(title)[1:-1] in body, title
    # Engine figures are its EMF metrics: namespace Exchange, service=engine, per shard.
    assert '"Exchange","CommandsPerSecond","service","engine","shard","s1"' in body


def metric_name(alarm: dict[str, Any]) -> str:
    """An alarm's metric, whether rendered plain or as a labelled metric query."""
    if "MetricName" in alarm:
        return str(alarm["MetricName"])
    (query,) = alarm["Metrics"]
    return str(query["MetricStat"]["Metric"]["MetricName"])


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_alarms_cover_errors_lag_and_saturation_and_notify_the_topic(
    resources: dict[str, Resources], stack: str
) -> None:
    alarms = of_type(resources[stack], "AWS::CloudWatch::Alarm")
    ((topic, props),) = of_type(resources[stack], "AWS::SNS::Topic").items()
    assert props["Properties"]["KmsMasterKeyId"]
    metrics = {metric_name(a["Properties"]) for a in alarms.values()}
    assert {
        "Errors",
        "Throttles",
        "IteratorAge",
        "5XXError",
        "Latency",
        "JournalWriteLatency",
        "MessageCount",
        "CPUUtilization",
        "DatabaseConnections",
        "ApproximateNumberOfMessagesVisible",
    } <= metrics
    consumers = [s.name for s in FUNCTIONS.values() if s.trigger is Trigger.KINESIS]
    iterator_alarms = [a for a in alarms.values() if metric_name(a["Properties"]) == "IteratorAge"]
    assert len(iterator_alarms) == len(consumers)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}], name


def metric_of(alarm: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(namespace, metric, dimensions) of an alarm, plain or as a labelled metric query."""
    if "MetricName" in alarm:
        stat: dict[str, Any] = alarm
    else:
        (query,) = alarm["Metrics"]
        stat = query["MetricStat"]["Metric"]
    dimensions = {d["Name"]: d["Value"] for d in stat.get("Dimensions", [])}
    return stat["Namespace"], stat["MetricName"], dimensions


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_money_safety_faults_page_the_topic(resources: dict[str, Resources], stack: str) -> None:
    # Given every alarm of the region, by (metric, dimensions)
    alarms = of_type(resources[stack], "AWS::CloudWatch::Alarm")
    ((topic, _),) = of_type(resources[stack], "AWS::SNS::Topic").items()
    by_metric = {}
    for alarm in alarms.values():
        props = alarm["Properties"]
        namespace, metric, dimensions = metric_of(props)
        if namespace == "Exchange":
            by_metric[(metric, tuple(sorted(dimensions.items())))] = props
    consumers = [s.name for s in FUNCTIONS.values() if s.trigger is Trigger.KINESIS]
    dead_letters = next(s.name for s in FUNCTIONS.values() if s.trigger is Trigger.AMAZON_MQ)
    reconciler = next(s.name for s in FUNCTIONS.values() if s.trigger is Trigger.SCHEDULE)
    shards = sorted(ShardMap.demo().shards)
    # Then each fault pages on its first occurrence: dead letters, journal gaps and quarantined
    # records in any consumer, a failing or untrustworthy snapshot store in any shard
    paging_on_first = [
        ("DeadLetteredCommands", {"service": dead_letters}),
        *[
            (fault, {"service": consumer})
            for consumer in consumers
            for fault in ("JournalSequenceGaps", "JournalQuarantined")
        ],
        *[
            (fault, {"service": "engine", "shard": shard})
            for shard in shards
            for fault in ("SnapshotStoreFailures", "SnapshotsRefused")
        ],
    ]
    for metric, dimensions in paging_on_first:
        props = by_metric[(metric, tuple(sorted(dimensions.items())))]
        assert props["Threshold"] == 0, metric
        assert props["ComparisonOperator"] == "GreaterThanThreshold", metric
        assert props["EvaluationPeriods"] == 1, metric
        assert props["AlarmActions"] == [{"Ref": topic}], metric
    # And orders the reconciler cancelled page only when they stay pending for ten minutes
    stuck = by_metric[("ReconcilerStuckOrders", (("service", reconciler),))]
    assert (stuck["EvaluationPeriods"], stuck["DatapointsToAlarm"]) == (10, 10)
    assert stuck["Metrics"][0]["MetricStat"]["Period"] == 60
    # And reconciliations themselves, being normal, page nobody
    assert ("OrdersReconciled", (("service", reconciler),)) not in by_metric


def test_failover_record_is_guarded_by_a_health_check_on_the_regions_own_health_path() -> None:
    # Given one region's API and a hosted zone
    stack = Stack(App(), "Probe", env={"region": "us-west-2", "account": "123456789012"})
    api = apigw.RestApi(stack, "Api", deploy_options=apigw.StageOptions(stage_name="live"))
    api.root.add_method("GET")
    # When the DR half of the failover is built
    ApiFailoverRecord(
        stack,
        "Dns",
        zone_id="Z0123456789ABC",
        zone_name="example.com",
        domain_name="api.example.com",
        api=api,
        primary=False,
    )
    template = Template.from_stack(stack).to_json()["Resources"]
    # Then its record is the SECONDARY one, tied to a check of this region's /v1/health
    ((_, record),) = of_type(template, "AWS::Route53::RecordSet").items()
    assert record["Properties"]["Failover"] == "SECONDARY"
    assert record["Properties"]["HealthCheckId"]
    ((_, check),) = of_type(template, "AWS::Route53::HealthCheck").items()
    config = check["Properties"]["HealthCheckConfig"]
    path = flatten(config["ResourcePath"])  # /<the stage>/v1/health
    assert path.startswith("/<ApiDeploymentStagelive")
    assert path.endswith(constants.HEALTH_PATH)
    assert "execute-api.us-west-2" in flatten(config["FullyQualifiedDomainName"])


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_no_dns_resources_without_a_hosted_zone(
    resources: dict[str, Resources], stack: str
) -> None:
    assert not of_type(resources[stack], "AWS::Route53::RecordSet")
    assert not of_type(resources[stack], "AWS::Route53::HealthCheck")
