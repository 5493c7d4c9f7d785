"""A dashboard per region with the issue's widgets, alarms on what pages (in the monitoring nested
stack, notifying the main stack's topic), and Route 53 failover only when a hosted zone is
configured."""

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
from tests.infrastructure.conftest import (
    MAIN_STACKS,
    Resources,
    flatten,
    of_type,
    watched,
    with_nested,
)

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
    "MQ dead-letter queue depth",
    "Engine running tasks",
    "Reconciliation drift by check",
    "Dead-lettered operator commands / unfunded dividends",
    "Orders accepted / fills per second",
    "Rejected orders by reason: engine and API (per minute)",
    "Traded notional per symbol (quote units per 5 minutes)",
    "Symbol status (0 TRADING, 1 POST_ONLY, 2 CANCEL_ONLY, 3 HALTED, 4 DELISTED)",
    "DynamoDB throttles",
    "Aurora CPU (%)",
    "Aurora connections",
)


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_dashboard_shows_every_figure_the_operators_watch(
    resources: dict[str, Resources], stack: str
) -> None:
    ((_, dashboard),) = of_type(watched(resources, stack), "AWS::CloudWatch::Dashboard").items()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for title in WIDGETS:
        assert json.dumps(title)[1:-1] in body, title
    # Engine figures are its EMF metrics: namespace Exchange, service=engine, per shard.
    assert '"Exchange","CommandsPerSecond","service","engine","shard","s1"' in body
    # The business figures are the recorder's EMF metrics; where the dimension's values are only
    # known at run time (reasons, symbols listed by operators) a SEARCH expression finds every
    # series ("CloudWatch search expression syntax"). Counts per minute become rates per second.
    for expression in (
        "ordersaccepted / PERIOD(ordersaccepted)",
        "fills / PERIOD(fills)",
        """SEARCH('{Exchange,reason,service} MetricName="OrdersRejected"', 'Sum', 60)""",
        """SEARCH('{Exchange,symbol,service} MetricName="TradedNotional" service="recorder"',""",
        """SEARCH('{Exchange,service,symbol} MetricName="SymbolStatus"', 'Maximum', 900)""",
    ):
        assert json.dumps(expression)[1:-1] in body, expression
    # The status graph's legend: a labelled line per code (0 TRADING ... 4 DELISTED)
    for code, status in enumerate(("TRADING", "POST_ONLY", "CANCEL_ONLY", "HALTED", "DELISTED")):
        assert f'"label":"{code} {status}"' in body, status


def metric_name(alarm: dict[str, Any]) -> str:
    """An alarm's metric, whether rendered plain or as a labelled metric query (a query's
    expression, for an alarm on a Metrics Insights query)."""
    return metric_of(alarm)[1]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_alarms_cover_errors_lag_and_saturation_and_notify_the_topic(
    resources: dict[str, Resources], stack: str
) -> None:
    alarms = of_type(watched(resources, stack), "AWS::CloudWatch::Alarm")
    assert not of_type(resources[stack], "AWS::CloudWatch::Alarm"), "all in the nested stack"
    ((topic, props),) = [
        (name, r)
        for name, r in of_type(resources[stack], "AWS::SNS::Topic").items()
        if name.startswith("MonitoringAlarms")
    ]
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
    """(namespace, metric, dimensions) of an alarm, plain or as a labelled metric query; of an
    alarm on an expression (a Metrics Insights query): ("", the expression, {})."""
    if "MetricName" in alarm:
        stat: dict[str, Any] = alarm
    else:
        (query,) = alarm["Metrics"]
        if "Expression" in query:
            return "", str(query["Expression"]), {}
        stat = query["MetricStat"]["Metric"]
    dimensions = {d["Name"]: d["Value"] for d in stat.get("Dimensions", [])}
    return stat["Namespace"], stat["MetricName"], dimensions


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_money_safety_faults_page_the_topic(resources: dict[str, Resources], stack: str) -> None:
    # Given every alarm of the region, by (metric, dimensions)
    alarms = of_type(watched(resources, stack), "AWS::CloudWatch::Alarm")
    ((topic, _),) = [
        (name, r)
        for name, r in of_type(resources[stack], "AWS::SNS::Topic").items()
        if name.startswith("MonitoringAlarms")
    ]
    by_metric = {}
    for alarm in alarms.values():
        props = alarm["Properties"]
        namespace, metric, dimensions = metric_of(props)
        if namespace == "Exchange":
            by_metric[(metric, tuple(sorted(dimensions.items())))] = props
    consumers = [s.name for s in FUNCTIONS.values() if s.trigger is Trigger.KINESIS]
    dead_letters = next(s.name for s in FUNCTIONS.values() if s.trigger is Trigger.AMAZON_MQ)
    reconciler = "reconciler"
    shards = sorted(ShardMap.demo().shards)
    # Then each fault pages on its first occurrence: dead letters, journal gaps and quarantined
    # records in any consumer, a failing or untrustworthy snapshot store in any shard
    paging_on_first = [
        ("DeadLetteredCommands", {"service": dead_letters}),
        ("DeadLetteredOperatorCommands", {"service": dead_letters}),
        ("DividendsUnfunded", {"service": "dividends"}),
        *[
            (fault, {"service": consumer})
            for consumer in consumers
            for fault in ("JournalSequenceGaps", "JournalQuarantined", "JournalSeqReused")
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
    # The stage's own URL: https://<api id>.execute-api.<region>.<suffix>/<stage>/v1/health, over
    # TLS with SNI (API Gateway's endpoints need the host name in the client hello). An HTTPS check
    # counts 200-399 as healthy and anything else, the health function's 503 included, as a
    # failure ("HealthCheckConfig", Route 53 API reference; "How Amazon Route 53 determines
    # whether a health check is healthy").
    assert (config["Type"], config["Port"], config["EnableSNI"]) == ("HTTPS", 443, True)
    assert config["ResourcePath"] == {
        "Fn::Join": ["", ["/", {"Ref": stage_id(template)}, constants.HEALTH_PATH]]
    }
    assert flatten(config["FullyQualifiedDomainName"]) == (
        f"<{api_id(template)}>.execute-api.us-west-2.<AWS::URLSuffix>"
    )
    assert (config["RequestInterval"], config["FailureThreshold"]) == (10, 3)
    assert "SearchString" not in config, "the status code decides, not the body"


def stage_id(template: Resources) -> str:
    ((logical, _),) = of_type(template, "AWS::ApiGateway::Stage").items()
    return logical


def api_id(template: Resources) -> str:
    ((logical, _),) = of_type(template, "AWS::ApiGateway::RestApi").items()
    return logical


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_health_path_the_check_probes_is_served_on_the_deployed_stage(
    resources: dict[str, Resources], stack: str
) -> None:
    # The check builds /<stage name>/v1/health from the API's deployment stage; that stage is
    # the app's one, and GET /v1/health is a public route on it (tests/infrastructure/test_api).
    ((_, stage),) = of_type(with_nested(resources, stack), "AWS::ApiGateway::Stage").items()
    assert stage["Properties"]["StageName"] == constants.API_STAGE
    paths = {
        r["Properties"]["PathPart"]
        for r in of_type(with_nested(resources, stack), "AWS::ApiGateway::Resource").values()
    }
    assert {"v1", "health"} <= paths
    assert any(
        route.path == constants.HEALTH_PATH and route.method == "GET" and not route.authorized
        for spec in FUNCTIONS.values()
        for route in spec.routes
    )


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_no_dns_resources_without_a_hosted_zone(
    resources: dict[str, Resources], stack: str
) -> None:
    assert not of_type(resources[stack], "AWS::Route53::RecordSet")
    assert not of_type(resources[stack], "AWS::Route53::HealthCheck")
