"""Every catalog function, built by the factory, in both regions: runtime, environment, trigger,
and a role scoped to exactly its own tables and actions (checked statement by statement)."""

from collections.abc import Iterator
from typing import Any

import pytest

from exchange.settings import env_var
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS, FunctionSpec, Need, Trigger
from lambdas.environment import POWERTOOLS_SWITCHES
from stacks import constants
from stacks.constructs.grants import TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS
from tests.infrastructure.conftest import MAIN_STACKS, Resources, flatten, of_type

SPECS = list(FUNCTIONS.values())
CASES = [(stack, spec) for stack in MAIN_STACKS for spec in SPECS]
IDS = [f"{stack.split('-')[-1]}-{spec.name}" for stack, spec in CASES]
INDEXES = {spec.logical_name: {index.name for index in spec.indexes} for spec in TABLE_SPECS}
# Actions on data: none of them may be granted on "*".
DATA_ACTION_PREFIXES = (
    "dynamodb:",
    "s3:",
    "kinesis:",
    "sqs:",
    "secretsmanager:",
    "kms:",
    "execute-api:",
)
VPC_NEEDS = {Need.BROKER, Need.LEDGER, Need.REDIS}


def function(resources: Resources, spec: FunctionSpec) -> dict[str, Any]:
    name = f"exchange-prod-{spec.name}"
    (found,) = [
        r["Properties"]
        for r in of_type(resources, "AWS::Lambda::Function").values()
        if r["Properties"].get("FunctionName") == name
    ]
    return found  # type: ignore[no-any-return]


def role_statements(resources: Resources, spec: FunctionSpec) -> Iterator[dict[str, Any]]:
    """Every statement of every policy attached to the function's role."""
    role = function(resources, spec)["Role"]["Fn::GetAtt"][0]
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            yield from policy["Properties"]["PolicyDocument"]["Statement"]
    assert "ManagedPolicyArns" not in resources[role]["Properties"], "no managed policies"


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


def table_of(arn: str) -> tuple[str, str | None]:
    """(logical table, index or None) from a flattened DynamoDB ARN."""
    resource = arn.split(":table/", 1)[1]
    name, _, index = resource.partition("/index/")
    assert name.startswith("exchange-prod-"), arn
    return name.removeprefix("exchange-prod-"), index or None


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_function_runs_the_catalog_handler_on_the_shared_runtime(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    props = function(resources[stack], spec)
    assert props["Handler"] == f"lambdas.{spec.name}.handler.handler"
    assert props["Runtime"] == constants.LAMBDA_RUNTIME.name
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 1024
    assert props["Timeout"] == spec.timeout_seconds
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert len(props["Layers"]) == 1
    assert props.get("ReservedConcurrentExecutions") == spec.reserved_concurrency
    assert ("VpcConfig" in props) == bool(spec.needs & VPC_NEEDS)


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_function_environment_names_its_tables_and_needs(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    env = function(resources[stack], spec)["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == spec.name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Exchange"
    assert env["EXCHANGE_ENVIRONMENT"] == "prod"
    tables = {k for k in env if k.endswith("_TABLE")}
    assert tables == {f"EXCHANGE_{logical.upper()}_TABLE" for logical in spec.tables}
    for logical in spec.tables:
        assert env[f"EXCHANGE_{logical.upper()}_TABLE"] == f"exchange-prod-{logical}"
    expected = {
        Need.BROKER: {"EXCHANGE_BROKER_ENDPOINT", "EXCHANGE_BROKER_SECRET_ARN"},
        Need.LEDGER: {"EXCHANGE_DATABASE_SECRET_ARN"},
        Need.REDIS: {"EXCHANGE_REDIS_URL"},
        Need.WS_MANAGEMENT: {"EXCHANGE_WS_MANAGEMENT_ENDPOINT"},
        Need.WEBHOOK_SECRET: {"EXCHANGE_LEDGER_WEBHOOK_SECRET_ARN"},
        Need.JWKS: {
            "EXCHANGE_USER_POOL_ID",
            "EXCHANGE_APP_CLIENT_ID",
            "EXCHANGE_JWKS_URL",
            "EXCHANGE_ISSUER",
        },
    }
    for need, variables in expected.items():
        assert (variables <= set(env)) == (need in spec.needs), need
    if Need.REDIS in spec.needs:
        assert flatten(env["EXCHANGE_REDIS_URL"]).startswith("rediss://")


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_function_environment_is_what_its_settings_model_reads(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    env = function(resources[stack], spec)["Environment"]["Variables"]
    read = {env_var(spec.settings, field) for field in spec.settings.model_fields}
    unread = set(env) - read - set(POWERTOOLS_SWITCHES)
    assert not unread, f"{spec.name} gets {sorted(unread)}, which its settings do not read"
    assert set(POWERTOOLS_SWITCHES) <= set(env)


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_role_reaches_exactly_its_own_tables_with_the_catalog_access(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    granted: dict[str, set[str]] = {}
    for statement in role_statements(resources[stack], spec):
        actions = as_list(statement["Action"])
        table_actions = [a for a in actions if a.startswith("dynamodb:")]
        if not table_actions:
            continue
        for arn in map(flatten, as_list(statement["Resource"])):
            logical, index = table_of(arn)
            assert logical in spec.tables, f"{spec.name} may not touch {logical}"
            assert index is None or index in INDEXES[logical], arn
            granted.setdefault(logical, set()).update(table_actions)
    assert set(granted) == set(spec.tables)
    for logical, access in spec.tables.items():
        allowed = TABLE_WRITE_ACTIONS if access == "write" else TABLE_READ_ACTIONS
        assert granted[logical] <= set(allowed), f"{spec.name} on {logical}"
        assert "dynamodb:Scan" not in granted[logical]
        if access == "read":
            assert not granted[logical] & {"dynamodb:PutItem", "dynamodb:UpdateItem"}


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_role_grants_no_data_action_on_a_wildcard_resource(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    for statement in role_statements(resources[stack], spec):
        if "*" not in as_list(statement["Resource"]):
            continue
        data = [a for a in as_list(statement["Action"]) if a.startswith(DATA_ACTION_PREFIXES)]
        assert not data, f"{spec.name} has {data} on '*'"


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_role_reaches_secrets_and_connections_only_for_its_needs(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    actions = {a for s in role_statements(resources[stack], spec) for a in as_list(s["Action"])}
    assert ("execute-api:ManageConnections" in actions) == (Need.WS_MANAGEMENT in spec.needs)
    secret_needs = {Need.BROKER, Need.LEDGER, Need.WEBHOOK_SECRET}
    assert ("secretsmanager:GetSecretValue" in actions) == bool(spec.needs & secret_needs)
    assert ("kinesis:GetRecords" in actions) == (spec.trigger is Trigger.KINESIS)


KINESIS = [spec for spec in SPECS if spec.trigger is Trigger.KINESIS]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_each_journal_consumer_has_a_guarded_event_source_mapping(
    resources: dict[str, Resources], stack: str
) -> None:
    mappings = of_type(resources[stack], "AWS::Lambda::EventSourceMapping")
    consumers = {
        name: r["Properties"]["ConsumerName"]
        for name, r in of_type(resources[stack], "AWS::Kinesis::StreamConsumer").items()
    }
    by_function = {}
    for mapping in mappings.values():
        target = mapping["Properties"]["FunctionName"]["Ref"]
        by_function[resources[stack][target]["Properties"]["FunctionName"]] = mapping["Properties"]
    assert set(by_function) == {f"exchange-prod-{spec.name}" for spec in KINESIS}
    for spec in KINESIS:
        props = by_function[f"exchange-prod-{spec.name}"]
        assert props["StartingPosition"] == "TRIM_HORIZON"
        assert props["BisectBatchOnFunctionError"] is True
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["MaximumRetryAttempts"] == constants.KINESIS_RETRY_ATTEMPTS
        assert props["BatchSize"] == constants.KINESIS_BATCH_SIZE
        (queue, _) = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"]
        assert resources[stack][queue]["Type"] == "AWS::SQS::Queue"
        source = flatten(props["EventSourceArn"])
        enhanced = spec.name in constants.ENHANCED_FAN_OUT_CONSUMERS
        assert (source.strip("<>").split(".")[0] in consumers) == enhanced, source


def test_enhanced_fan_out_consumers_are_journal_consumers_of_the_catalog() -> None:
    assert {spec.name for spec in KINESIS} >= constants.ENHANCED_FAN_OUT_CONSUMERS


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_failure_queues_are_encrypted_and_tls_only(
    resources: dict[str, Resources], stack: str
) -> None:
    queues = of_type(resources[stack], "AWS::SQS::Queue")
    assert len(queues) == len(KINESIS)
    for name, queue in queues.items():
        assert queue["Properties"]["KmsMasterKeyId"], name
