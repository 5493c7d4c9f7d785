"""What operator controls add to each region: the admin API behind the Cognito access token and the
operators group, the operators group itself, the reports bucket the reconciliation writes to, the
instruments store, and the alarms an operator acts on. (The schedules: ``test_schedules``; the
alarms' subscribers: ``test_alarm_subscriptions``; the engine's instruments and Container Insights:
``test_engine``; the dashboard's widgets: ``test_monitoring``.)"""

import re
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from exchange.messaging import ShardMap, dead_letter_queue
from exchange.settings import OPERATORS_GROUP
from exchange.tables import TABLE_SPECS, InstrumentRecord
from lambdas.catalog import ACCESS_TOKEN_SCOPE, FUNCTIONS, Need, Route, Trigger
from stacks.constructs.api.rest import RestApi
from stacks.constructs.grants import REPORTS_PREFIX
from stacks.constructs.monitoring.metrics import insights_sum
from stacks.constructs.monitoring.watch import ENGINE_DOWN_MINUTES, RECONCILIATION_PERIOD
from stacks.constructs.snapshots import REPORT_RETENTION
from tests.infrastructure.conftest import (
    DR,
    DR_BASE,
    MAIN_STACKS,
    PRIMARY,
    PRIMARY_BASE,
    Resources,
    flatten,
    of_type,
    watched,
    with_nested,
)
from tests.infrastructure.test_api import ROUTES, authorizers, methods
from tests.infrastructure.test_functions import as_list, function, role_statements
from tests.infrastructure.test_monitoring import metric_of

ADMIN = [route for name, route in ROUTES if name == "admin"]
SHARDS = sorted(ShardMap.demo().shards)
FIFTEEN = RECONCILIATION_PERIOD
REGION = {PRIMARY: "us-east-1", DR: "us-west-2", PRIMARY_BASE: "us-east-1", DR_BASE: "us-west-2"}


# --- the admin API ------------------------------------------------------------------------------


def test_the_admin_routes_are_the_operators_groups_and_only_they_are() -> None:
    assert ADMIN, "the catalog has admin routes"
    grouped = {(r.method, r.path) for _, r in ROUTES if r.group is not None}
    assert grouped == {(r.method, r.path) for r in ADMIN}
    assert all(r.path.startswith("/v1/admin/") and r.group == OPERATORS_GROUP for r in ADMIN)
    assert all(r.authorizer == "cognito" for r in ADMIN)


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_every_admin_method_takes_the_cognito_access_token_by_its_scope(
    resources: dict[str, Resources], stack: str
) -> None:
    """ "Control access to REST APIs using Amazon Cognito user pools as an authorizer" (API
    Gateway): with OAuth scopes on the method (AWS::ApiGateway::Method AuthorizationScopes) the
    user-pool authorizer validates an ACCESS token carrying one of them; without, only the ID
    token. Cognito puts the user's groups in the access token's ``cognito:groups`` claim
    ("Understanding the access token"), which the admin handler checks; API Gateway checks none."""
    found = methods(with_nested(resources, stack))
    # Beside the CORS preflights (an unauthorized MOCK OPTIONS per routed resource: test_cors)
    admin_paths = {(m, p) for m, p in found if p.startswith("/v1/admin") and m != "OPTIONS"}
    assert admin_paths == {(r.method, r.path) for r in ADMIN}
    cognito_id, _ = authorizers(with_nested(resources, stack))["COGNITO_USER_POOLS"]
    for method_path in admin_paths:
        method = found[method_path]
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS", method_path
        assert method["AuthorizerId"] == {"Ref": cognito_id}, method_path
        assert method["AuthorizationScopes"] == [ACCESS_TOKEN_SCOPE], method_path
        assert "RequestValidatorId" in method
        assert "adminfunction" in flatten(method["Integration"]["Uri"]).lower()


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_stage_throttle_and_the_web_acl_cover_every_method_admin_included(
    resources: dict[str, Resources], stack: str
) -> None:
    # One stage-wide method setting (every resource, every method) and the WAF on the stage.
    ((stage_id, stage),) = of_type(with_nested(resources, stack), "AWS::ApiGateway::Stage").items()
    (settings,) = stage["Properties"]["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    (association,) = of_type(
        with_nested(resources, stack), "AWS::WAFv2::WebACLAssociation"
    ).values()
    resource = flatten(association["Properties"]["ResourceArn"])
    # The stage is the REST API's nested stack's: its ARN arrives as that stack's output.
    assert stage_id in resource or (
        ".Outputs." in resource and "RestApiDeploymentStagelive" in resource
    ), resource


@pytest.mark.parametrize(
    "route",
    [
        Route("GET", "/v1/orders", group=OPERATORS_GROUP),  # an API key's route: "request"
        Route("GET", "/v1/admin/markets", authorized=False, group=OPERATORS_GROUP),  # public
    ],
    ids=["request", "public"],
)
def test_a_group_route_without_the_cognito_authorizer_is_refused(route: Route) -> None:
    # Given a REST API with its request authorizer
    stack = Stack(App(), "Probe", env={"region": "us-east-1", "account": "123456789012"})
    api = RestApi(
        stack,
        "Rest",
        name="probe",
        stage_name="live",
        rate_limit=10,
        burst_limit=10,
        user_pool=cognito.UserPool(stack, "Pool"),
        key=kms.Key(stack, "Key"),
        retention=logs.RetentionDays.ONE_DAY,
        retain=False,
    )
    handler = lambda_.Function(
        stack,
        "Handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        handler="index.handler",
        runtime=lambda_.Runtime.PYTHON_3_13,
    )
    api.set_request_authorizer(handler)
    # When a route of the operators group would take another authorizer, then the synth stops
    with pytest.raises(ValueError, match="operators group"):
        api.add_route(route, handler, public_reason="a reason that would otherwise do")


def test_the_operators_group_is_in_the_primary_pool_only(resources: dict[str, Resources]) -> None:
    ((pool_id, _),) = of_type(resources[PRIMARY], "AWS::Cognito::UserPool").items()
    (group,) = of_type(resources[PRIMARY], "AWS::Cognito::UserPoolGroup").values()
    props = group["Properties"]
    assert props["GroupName"] == OPERATORS_GROUP == "operators"
    assert props["UserPoolId"] == {"Ref": pool_id}
    assert props["Precedence"] == 0
    assert props["Description"]
    assert "RoleArn" not in props  # membership grants no AWS credentials, only the admin API
    # The DR API trusts the primary's pool (test_api), so it has no group of its own.
    assert not of_type(resources[DR], "AWS::Cognito::UserPoolGroup")


# --- the instruments store and the reports bucket ---------------------------------------------


def test_the_instruments_store_is_one_of_the_global_tables() -> None:
    # test_data checks every TABLE_SPECS table: global, replicated to DR, PITR, KMS in both.
    assert InstrumentRecord.logical_name in {spec.logical_name for spec in TABLE_SPECS}


def reports_bucket(resources: Resources) -> tuple[str, dict[str, Any]]:
    ((bucket_id, bucket),) = [
        (name, b["Properties"])
        for name, b in of_type(resources, "AWS::S3::Bucket").items()
        if "exchange-prod-reports" in flatten(b["Properties"].get("BucketName", ""))
    ]
    return bucket_id, bucket


@pytest.mark.parametrize("stack", [PRIMARY_BASE, DR_BASE])
def test_reports_are_kms_encrypted_tls_only_versioned_logged_and_kept_seven_years(
    resources: dict[str, Resources], stack: str
) -> None:
    bucket_id, bucket = reports_bucket(resources[stack])
    assert flatten(bucket["BucketName"]).endswith(f"-<AWS::AccountId>-{REGION[stack]}")
    # The region's data key, with S3 Bucket Keys ("Reducing the cost of SSE-KMS")
    ((key_id, _),) = of_type(resources[stack], "AWS::KMS::Key").items()
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert rule["BucketKeyEnabled"] is True
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "reports/"
    # Standard-IA after 30 days, Glacier after 90, gone after 7 years, overwritten versions too
    (tiering,) = bucket["LifecycleConfiguration"]["Rules"]
    assert [(t["StorageClass"], t["TransitionInDays"]) for t in tiering["Transitions"]] == [
        ("STANDARD_IA", 30),
        ("GLACIER", 90),
    ]
    days = int(REPORT_RETENTION.to_days())
    assert tiering["ExpirationInDays"] == days >= 7 * 365
    assert tiering["NoncurrentVersionExpiration"] == {"NoncurrentDays": days}
    # TLS only (the other buckets' checks: test_data)
    (policy,) = [
        p["Properties"]
        for p in of_type(resources[stack], "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == (
        "Deny",
        {"Bool": {"aws:SecureTransport": "false"}},
    )


def test_the_primarys_reports_replicate_into_the_dr_reports_bucket(
    resources: dict[str, Resources],
) -> None:
    _, bucket = reports_bucket(resources[PRIMARY_BASE])
    (rule,) = bucket["ReplicationConfiguration"]["Rules"]
    destination = rule["Destination"]
    assert flatten(destination["Bucket"]).startswith("arn:aws:s3:::exchange-prod-reports-")
    assert flatten(destination["Bucket"]).endswith("-us-west-2")
    assert destination["EncryptionConfiguration"]["ReplicaKmsKeyID"]
    assert rule["SourceSelectionCriteria"]["SseKmsEncryptedObjects"] == {"Status": "Enabled"}
    _, dr_bucket = reports_bucket(resources[DR_BASE])
    assert "ReplicationConfiguration" not in dr_bucket


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_only_the_report_writer_writes_reports_and_only_under_its_prefix(
    resources: dict[str, Resources], stack: str
) -> None:
    bucket = f"exchange-prod-reports-<AWS::AccountId>-{REGION[stack]}"
    for spec in FUNCTIONS.values():
        puts = [
            flatten(resource)
            for statement in role_statements(resources[stack], spec)
            if "s3:PutObject" in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        ]
        env = function(resources[stack], spec)["Environment"]["Variables"]
        if Need.REPORTS_BUCKET not in spec.needs:
            assert not [p for p in puts if "reports" in p], spec.name
            assert "EXCHANGE_REPORTS_BUCKET" not in env
            continue
        assert puts == [f"arn:aws:s3:::{bucket}/{REPORTS_PREFIX}*"]
        assert flatten(env["EXCHANGE_REPORTS_BUCKET"]) == bucket
        actions = {a for s in role_statements(resources[stack], spec) for a in as_list(s["Action"])}
        assert "kms:GenerateDataKey" in actions  # an SSE-KMS upload


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_snapshot_reader_reads_snapshots_and_reaches_redis(
    resources: dict[str, Resources], stack: str
) -> None:
    bucket = f"exchange-prod-snapshots-<AWS::AccountId>-{REGION[stack]}"
    (reader,) = [spec for spec in FUNCTIONS.values() if Need.ENGINE_SNAPSHOTS in spec.needs]
    granted: dict[str, set[str]] = {}
    for statement in role_statements(resources[stack], reader):
        for action in as_list(statement["Action"]):
            granted.setdefault(action, set()).update(map(flatten, as_list(statement["Resource"])))
    assert granted["s3:GetObject"] == {f"arn:aws:s3:::{bucket}/*"}
    assert granted["s3:ListBucket"] == {f"arn:aws:s3:::{bucket}"}
    assert "s3:PutObject" not in granted or not any(bucket in r for r in granted["s3:PutObject"])
    env = function(resources[stack], reader)["Environment"]["Variables"]
    assert flatten(env["EXCHANGE_SNAPSHOT_BUCKET"]) == bucket
    assert flatten(env["EXCHANGE_REDIS_URL"]).startswith("rediss://")
    # Redis admits the function's security group on its port
    (group,) = function(resources[stack], reader)["VpcConfig"]["SecurityGroupIds"]
    sources = [
        r["Properties"]
        for r in of_type(resources[stack], "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("SourceSecurityGroupId") == group
    ]
    assert 6380 in {s["FromPort"] for s in sources}


# --- the alarms ---------------------------------------------------------------------------------


def alarms_by_metric(resources: dict[str, Resources], stack: str) -> dict[tuple[Any, ...], Any]:
    """(namespace, metric, dimensions) -> the alarm's properties, for single-metric alarms."""
    found = {}
    for alarm in of_type(watched(resources, stack), "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if "Expression" in str(props.get("Metrics", "")):
            continue
        namespace, metric, dimensions = metric_of(props)
        key = tuple(sorted((name, flatten(value)) for name, value in dimensions.items()))
        found[(namespace, metric, key)] = props
    return found


def statistic_of(alarm: dict[str, Any]) -> tuple[str, int]:
    """(statistic, period) of a single-metric alarm, plain or as a labelled metric query."""
    if "MetricName" in alarm:
        return alarm["Statistic"], alarm["Period"]
    (query,) = alarm["Metrics"]
    return query["MetricStat"]["Stat"], query["MetricStat"]["Period"]


def topic_of(resources: dict[str, Resources], stack: str) -> dict[str, str]:
    """The alarm topic (``Monitoring``'s; the notifications topic is the other one)."""
    ((topic, _),) = [
        (name, topic)
        for name, topic in of_type(resources[stack], "AWS::SNS::Topic").items()
        if name.startswith("MonitoringAlarms")
    ]
    return {"Ref": topic}


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_a_message_in_an_engine_dead_letter_queue_pages(
    resources: dict[str, Resources], stack: str
) -> None:
    # "Monitoring Amazon MQ for RabbitMQ brokers": MessageCount per queue, dimensions Broker,
    # VirtualHost and Queue (as the command queues' depth alarms).
    alarms = alarms_by_metric(resources, stack)
    for shard in SHARDS:
        dimensions = (
            ("Broker", "exchange-prod-broker"),
            ("Queue", dead_letter_queue(shard)),
            ("VirtualHost", "/"),
        )
        props = alarms[("AWS/AmazonMQ", "MessageCount", dimensions)]
        assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert (*statistic_of(props), props["EvaluationPeriods"]) == ("Maximum", 60, 1)
        assert props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"] == props["OKActions"] == [topic_of(resources, stack)]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_an_engine_service_without_its_running_task_pages_missing_data_included(
    resources: dict[str, Resources], stack: str
) -> None:
    """Container Insights publishes RunningTaskCount per service (ClusterName, ServiceName) only
    while a task runs ("Monitor Amazon ECS containers using Container Insights with enhanced
    observability": no RUNNING task, no metric), so a missing datapoint is a breach."""
    ((cluster, _),) = of_type(resources[stack], "AWS::ECS::Cluster").items()
    services = {
        r["Properties"]["ServiceName"]: name
        for name, r in of_type(resources[stack], "AWS::ECS::Service").items()
    }
    alarms = alarms_by_metric(resources, stack)
    for shard in SHARDS:
        dimensions = (
            ("ClusterName", f"<{cluster}>"),
            ("ServiceName", f"<{services[f'engine-{shard}']}.Name>"),
        )
        props = alarms[("ECS/ContainerInsights", "RunningTaskCount", dimensions)]
        assert (props["Threshold"], props["ComparisonOperator"]) == (1, "LessThanThreshold")
        assert props["TreatMissingData"] == "breaching"
        assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == ENGINE_DOWN_MINUTES
        assert statistic_of(props) == ("Maximum", 60)
        assert props["AlarmActions"] == [topic_of(resources, stack)]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_reconciliation_drift_in_any_check_pages(
    resources: dict[str, Resources], stack: str
) -> None:
    """One alarm on the sum over every check: a Metrics Insights query ("Create a CloudWatch
    alarm based on a Metrics Insights query": a query returning one series may be alarmed on;
    a SEARCH expression may not), over the reconciliation's 15-minute interval. Its label keys
    are double-quoted: ``CHECK`` is one of Metrics Insights' reserved keywords, which must be
    quoted when used as a label key ("Reserved keywords", CloudWatch Metrics Insights)."""
    (props,) = [
        alarm["Properties"]
        for alarm in of_type(watched(resources, stack), "AWS::CloudWatch::Alarm").values()
        if "ReconciliationDrift" in str(alarm["Properties"].get("Metrics", ""))
    ]
    (query,) = props["Metrics"]
    assert query["Expression"] == (
        'SELECT SUM(ReconciliationDrift) FROM SCHEMA("Exchange", "check", "service")'
        """ WHERE "service" = 'reconciliation'"""
    )
    assert FUNCTIONS["reconciliation"].every_minutes == 15
    assert query["Period"] == 15 * 60
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == [topic_of(resources, stack)]


# Label keys of ours that are Metrics Insights reserved keywords ("Reserved keywords",
# CloudWatch Metrics Insights: CHECK is one); each must reach a query double-quoted.
RESERVED_LABEL_KEYS = ("check",)


@pytest.mark.parametrize("dimension", RESERVED_LABEL_KEYS)
def test_an_insights_query_names_no_label_key_bare(dimension: str) -> None:
    metric = insights_sum("ReconciliationDrift", dimension, "reconciliation", FIFTEEN)
    assert isinstance(metric, cloudwatch.MathExpression)
    query = metric.expression
    # What is left once the quoted identifiers and the string literals are taken out.
    bare = re.sub(r"\"[^\"]*\"|'[^']*'", "", query)
    assert not re.search(rf"\b({dimension}|service)\b", bare), query


def test_the_alarms_name_the_functions_that_emit_their_metrics() -> None:
    # The EMF metrics' service dimension is the emitting function's name.
    assert FUNCTIONS["reconciliation"].trigger is Trigger.SCHEDULE
    assert FUNCTIONS["dividends"].trigger is Trigger.SCHEDULE
    assert FUNCTIONS["dead_letters"].trigger is Trigger.AMAZON_MQ
