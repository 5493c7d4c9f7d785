"""Every catalog function, built by the factory, in both regions: runtime, environment, trigger,
and a role scoped to exactly its own tables and actions (checked statement by statement)."""

from collections.abc import Iterator
from typing import Any

import pytest

from exchange.messaging import ShardMap, dead_letter_queue
from exchange.settings import env_var
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS, FunctionSpec, Need, Trigger
from lambdas.environment import POWERTOOLS_SWITCHES
from stacks import constants
from stacks.constructs.grants import SCANNED, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS
from tests.infrastructure.conftest import MAIN_STACKS, PRIMARY, Resources, flatten, of_type

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
VPC_NEEDS = {Need.BROKER, Need.LEDGER, Need.LEDGER_ADMIN, Need.REDIS, Need.ENGINE_SNAPSHOTS}


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
        Need.LEDGER: {
            "EXCHANGE_DATABASE_HOST",
            "EXCHANGE_DATABASE_PORT",
            "EXCHANGE_DATABASE_NAME",
            "EXCHANGE_DATABASE_USER",
        },
        Need.LEDGER_ADMIN: {"EXCHANGE_DATABASE_SECRET_ARN", "EXCHANGE_DATABASE_ROLE_SECRET_ARNS"},
        Need.REDIS: {"EXCHANGE_REDIS_URL"},
        Need.WS_MANAGEMENT: {"EXCHANGE_WS_MANAGEMENT_ENDPOINT"},
        Need.WEBHOOK_SECRET: {"EXCHANGE_LEDGER_WEBHOOK_SECRET_ARN"},
        Need.KYC_WEBHOOK_SECRET: {"EXCHANGE_KYC_WEBHOOK_SECRET_ARN"},
        Need.JWKS: {
            "EXCHANGE_USER_POOL_ID",
            "EXCHANGE_APP_CLIENT_ID",
            "EXCHANGE_JWKS_URL",
            "EXCHANGE_ISSUER",
            "EXCHANGE_USER_POOL_REGION",
        },
        Need.API_KEY_ENCRYPT: {"EXCHANGE_API_KEY_KMS_KEY_ID"},
        Need.API_KEY_DECRYPT: {"EXCHANGE_API_KEY_KMS_KEY_ID"},
        Need.CANCEL_AFTER_QUEUE: {"EXCHANGE_CANCEL_AFTER_QUEUE_URL"},
        Need.ENGINE_SNAPSHOTS: {
            "EXCHANGE_REDIS_URL",
            "EXCHANGE_SNAPSHOT_BUCKET",
            "EXCHANGE_SNAPSHOT_HMAC_SECRET_ARN",
        },
        Need.REPORTS_BUCKET: {"EXCHANGE_REPORTS_BUCKET"},
        Need.PAYOUT_QUEUE: {"EXCHANGE_PAYOUT_QUEUE_URL"},
        Need.PAYOUT_PROVIDER: {
            "EXCHANGE_PAYOUT_PROVIDER_URL",
            "EXCHANGE_PAYOUT_PROVIDER_SECRET_ARN",
        },
        Need.NOTIFICATIONS_TOPIC: {"EXCHANGE_NOTIFICATIONS_TOPIC_ARN"},
        Need.EMAIL: {"EXCHANGE_EMAIL_SENDER", "EXCHANGE_EMAIL_CONFIGURATION_SET"},
        # The pool is in the primary region: the DR region's emailer must be told so.
        Need.USER_DIRECTORY: {"EXCHANGE_USER_POOL_ID", "EXCHANGE_USER_POOL_REGION"},
    }
    assert set(expected) == set(Need), "every need's variables are checked"
    # A variable is set exactly when one of the function's needs names it (two needs may share
    # one: encrypting and decrypting API keys' secrets name the same key).
    read = {env_var(spec.settings, field) for field in spec.settings.model_fields}
    for variable in set().union(*expected.values()):
        needed = any(variable in expected[need] for need in spec.needs)
        # A need's variable its model does not read is left out (JWKS functions may not read
        # the pool's region, which only the user directory needs).
        assert (variable in env) == (needed and variable in read), variable
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
    scanned: set[tuple[str, str | None]] = set()
    for statement in role_statements(resources[stack], spec):
        actions = as_list(statement["Action"])
        on_tables = [a for a in actions if a.startswith("dynamodb:")]
        if not on_tables:
            continue
        for arn in map(flatten, as_list(statement["Resource"])):
            logical, index = table_of(arn)
            assert logical in spec.tables, f"{spec.name} may not touch {logical}"
            assert index is None or index in INDEXES[logical], arn
            granted.setdefault(logical, set()).update(set(on_tables) - {"dynamodb:Scan"})
            if "dynamodb:Scan" in on_tables:
                scanned.add((logical, index))
    assert set(granted) == set(spec.tables)
    for logical, access in spec.tables.items():
        allowed = TABLE_WRITE_ACTIONS if access == "write" else TABLE_READ_ACTIONS
        assert granted[logical] <= set(allowed), f"{spec.name} on {logical}"
        if access == "read":
            assert not granted[logical] & {"dynamodb:PutItem", "dynamodb:UpdateItem"}
    # Scan reads a whole table or index: only where it is read whole by design.
    assert scanned == {
        (logical, part) for logical in spec.tables for part in SCANNED.get(logical, ())
    }


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
    # A ledger function signs in to RDS Proxy with IAM: it reads no database secret.
    secret_needs = {
        Need.BROKER,
        Need.LEDGER_ADMIN,
        Need.WEBHOOK_SECRET,
        Need.KYC_WEBHOOK_SECRET,
        Need.ENGINE_SNAPSHOTS,  # the HMAC key of the engine's Redis snapshots
        Need.PAYOUT_PROVIDER,  # the provider's API secret
    }
    assert ("secretsmanager:GetSecretValue" in actions) == bool(spec.needs & secret_needs)
    assert ("kinesis:GetRecords" in actions) == (spec.trigger is Trigger.KINESIS)
    # Only the dead man's switch's consumer receives (its event source mapping reads the timers).
    assert ("sqs:ReceiveMessage" in actions) == (spec.trigger is Trigger.SQS)


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
        if "Queues" in mapping["Properties"]:
            continue  # an Amazon MQ mapping (below)
        source = flatten(mapping["Properties"]["EventSourceArn"]).strip("<>").split(".")[0]
        if resources[stack][source]["Type"] == "AWS::SQS::Queue":
            continue  # the dead man's switch's timers (test_timers)
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
def test_every_queue_is_encrypted_and_tls_only(resources: dict[str, Resources], stack: str) -> None:
    # A failure queue per journal consumer, and each SQS function's queue and its dead letters.
    queues = of_type(resources[stack], "AWS::SQS::Queue")
    sqs_queues = {spec.queue for spec in SPECS if spec.trigger is Trigger.SQS}
    assert len(queues) == len(KINESIS) + 2 * len(sqs_queues)
    policies = [
        p["Properties"] for p in of_type(resources[stack], "AWS::SQS::QueuePolicy").values()
    ]
    for name, queue in queues.items():
        assert queue["Properties"]["KmsMasterKeyId"], name
        (policy,) = [p for p in policies if {"Ref": name} in p["Queues"]]
        (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def function_id(resources: Resources, spec: FunctionSpec) -> str:
    name = f"exchange-prod-{spec.name}"
    (found,) = [
        logical
        for logical, r in of_type(resources, "AWS::Lambda::Function").items()
        if r["Properties"].get("FunctionName") == name
    ]
    return found


def only(trigger: Trigger) -> FunctionSpec:
    (spec,) = [spec for spec in SPECS if spec.trigger is trigger]
    return spec


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_each_dead_letter_queue_feeds_the_dead_letter_function_through_amazon_mq(
    resources: dict[str, Resources], stack: str
) -> None:
    """The mapping as AWS's "Using Lambda with Amazon MQ" page describes it for RabbitMQ: the
    broker's ARN, one queue, BASIC_AUTH with the broker's Secrets Manager secret, the virtual
    host, and the role's mq:DescribeBroker, secret read and EC2 network permissions."""
    consumer = only(Trigger.AMAZON_MQ)
    target = function_id(resources[stack], consumer)
    ((broker_id, _),) = of_type(resources[stack], "AWS::AmazonMQ::Broker").items()
    mappings = [
        r
        for r in of_type(resources[stack], "AWS::Lambda::EventSourceMapping").values()
        if "Queues" in r["Properties"]
    ]
    assert sorted(q for m in mappings for q in m["Properties"]["Queues"]) == [
        dead_letter_queue(shard) for shard in sorted(ShardMap.demo().shards)
    ]
    secret = {"Ref": next(n for n in resources[stack] if n.startswith("BrokerCredentials"))}
    role = function(resources[stack], consumer)["Role"]["Fn::GetAtt"][0]
    for mapping in mappings:
        props = mapping["Properties"]
        assert props["FunctionName"] == {"Ref": target}
        assert props["EventSourceArn"] == {"Fn::GetAtt": [broker_id, "Arn"]}
        assert len(props["Queues"]) == 1
        access = {c["Type"]: c["URI"] for c in props["SourceAccessConfigurations"]}
        assert access == {"BASIC_AUTH": secret, "VIRTUAL_HOST": "/"}
        # Lambda checks the role when the mapping is made: the policy exists first
        assert any(dep.startswith(role) for dep in mapping["DependsOn"])
    statements = list(role_statements(resources[stack], consumer))
    granted = {a: s["Resource"] for s in statements for a in as_list(s["Action"])}
    assert granted["mq:DescribeBroker"] == {"Fn::GetAtt": [broker_id, "Arn"]}
    assert secret in as_list(granted["secretsmanager:GetSecretValue"])
    assert {"ec2:CreateNetworkInterface", "ec2:DescribeVpcs", "ec2:DescribeSubnets"} <= set(granted)


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_mappings_pollers_reach_the_broker_inside_its_security_group(
    resources: dict[str, Resources], stack: str
) -> None:
    ((group_id, group),) = [
        (n, r) for n, r in of_type(resources[stack], "AWS::EC2::SecurityGroup").items()
        if n.startswith("BrokerSecurityGroup")
    ]  # fmt: skip
    own = {"Fn::GetAtt": [group_id, "GroupId"]}
    ingress = [
        r["Properties"]
        for r in of_type(resources[stack], "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == own and r["Properties"]["SourceSecurityGroupId"] == own
    ]
    assert [(i["FromPort"], i["ToPort"]) for i in ingress] == [(5671, 5671)]
    egress = group["Properties"]["SecurityGroupEgress"]
    assert [(e["CidrIp"], e["FromPort"]) for e in egress] == [("0.0.0.0/0", 443)]


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_a_function_in_the_vpc_may_manage_its_network_interfaces(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    # CDK attaches AWSLambdaVPCAccessExecutionRole only to roles it makes; these are our own.
    actions = {a for s in role_statements(resources[stack], spec) for a in as_list(s["Action"])}
    assert ("ec2:CreateNetworkInterface" in actions) == bool(spec.needs & VPC_NEEDS)


@pytest.mark.parametrize(("stack", "spec"), CASES, ids=IDS)
def test_a_function_that_reads_secrets_may_decrypt_them_through_secrets_manager_only(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    # The secrets are encrypted with the region's data key, whose key policy lets IAM decide; the
    # role must allow kms:Decrypt, and only when Secrets Manager asks for it ("Secret encryption
    # and decryption in AWS Secrets Manager": kms:ViaService).
    statements = list(role_statements(resources[stack], spec))
    reads = any("secretsmanager:GetSecretValue" in as_list(s["Action"]) for s in statements)
    region = "us-east-1" if stack == PRIMARY else "us-west-2"
    via = {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}
    decrypts = [s for s in statements if s.get("Condition") == via]
    assert bool(decrypts) == reads, spec.name
    for statement in decrypts:
        assert as_list(statement["Action"]) == ["kms:Decrypt"]
        assert "*" not in as_list(statement["Resource"])
