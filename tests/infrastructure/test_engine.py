"""The matching engine on ECS: c5.2xlarge hosts with IMDSv2 and no SSH, one service per shard of
the shard map, configured by EngineSettings' variables, at its configured count in DR, reading the
instruments store at start, on a cluster with Container Insights."""

import pytest

from exchange.messaging import ShardMap
from lambdas.catalog import FUNCTIONS, Need
from stacks import constants
from stacks.config import DeploymentConfig
from tests.infrastructure.conftest import DR, MAIN_STACKS, PRIMARY, Resources, flatten, of_type

SHARDS = ShardMap.demo().shards


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_engine_hosts_are_c5_2xlarge_with_imdsv2_no_ssh_in_private_subnets(
    resources: dict[str, Resources], stack: str
) -> None:
    ((_, template),) = of_type(resources[stack], "AWS::EC2::LaunchTemplate").items()
    data = template["Properties"]["LaunchTemplateData"]
    assert data["InstanceType"] == constants.ENGINE_INSTANCE_TYPE == "c5.2xlarge"
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert "KeyName" not in data
    assert all(d["Ebs"]["Encrypted"] for d in data["BlockDeviceMappings"])
    ((_, group),) = of_type(resources[stack], "AWS::AutoScaling::AutoScalingGroup").items()
    subnets = {s["Ref"] for s in group["Properties"]["VPCZoneIdentifier"]}
    assert subnets
    assert all("privateSubnet" in subnet for subnet in subnets)
    (provider,) = of_type(resources[stack], "AWS::ECS::CapacityProvider").values()
    scaling = provider["Properties"]["AutoScalingGroupProvider"]["ManagedScaling"]
    assert scaling["Status"] == "ENABLED"


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_one_service_per_shard_with_the_shard_settings(
    resources: dict[str, Resources], stack: str
) -> None:
    services = {
        r["Properties"]["ServiceName"]: r["Properties"]
        for r in of_type(resources[stack], "AWS::ECS::Service").values()
    }
    assert set(services) == {f"engine-{shard}" for shard in SHARDS}
    tasks = of_type(resources[stack], "AWS::ECS::TaskDefinition")
    for shard, symbols in SHARDS.items():
        service = services[f"engine-{shard}"]
        (container,) = tasks[service["TaskDefinition"]["Ref"]]["Properties"]["ContainerDefinitions"]
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["EXCHANGE_SHARD_ID"] == shard
        assert env["EXCHANGE_SYMBOLS"] == ",".join(symbols)
        assert {
            "EXCHANGE_BROKER_ENDPOINT",
            "EXCHANGE_BROKER_SECRET_ARN",
            "EXCHANGE_REDIS_URL",
            "EXCHANGE_JOURNAL_STREAM",
            "EXCHANGE_SNAPSHOT_BUCKET",
            "EXCHANGE_HEALTH_PORT",
        } <= set(env)
        assert env["EXCHANGE_HEALTH_PORT"] in " ".join(container["HealthCheck"]["Command"])
        assert container["StopTimeout"] == constants.ENGINE_STOP_TIMEOUT_SECONDS
        assert container["ReadonlyRootFilesystem"] is True
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        # One task per shard, never two: the old one drains before the new one starts.
        deployment = service["DeploymentConfiguration"]
        assert deployment["MaximumPercent"] == 100
        assert deployment["MinimumHealthyPercent"] == 0
        assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def desired_counts(resources: Resources) -> set[int]:
    return {
        r["Properties"]["DesiredCount"] for r in of_type(resources, "AWS::ECS::Service").values()
    }


def test_primary_runs_one_task_per_shard_and_dr_its_configured_count(
    resources: dict[str, Resources], config: DeploymentConfig
) -> None:
    assert desired_counts(resources[PRIMARY]) == {1}
    assert desired_counts(resources[DR]) == {config.dr_engine_desired_count}


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_engine_logs_are_kept_and_encrypted(resources: dict[str, Resources], stack: str) -> None:
    groups = of_type(resources[stack], "AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] > 0, name
        assert group["Properties"]["KmsKeyId"], name


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_engine_and_the_reconciliation_alone_read_the_key_that_signs_redis_snapshots(
    resources: dict[str, Resources], stack: str
) -> None:
    # Given the engine's snapshot key: a generated secret of its own
    (key_id,) = [
        n for n in of_type(resources[stack], "AWS::SecretsManager::Secret") if "SnapshotKey" in n
    ]
    # Then every shard's task is told where it is
    tasks = of_type(resources[stack], "AWS::ECS::TaskDefinition")
    roles = set()
    for task in tasks.values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["EXCHANGE_SNAPSHOT_HMAC_SECRET_ARN"] == {"Ref": key_id}
        roles.add(task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0])
    # And only the engine's task roles and the snapshot readers' roles may read it (Redis is
    # shared with other functions, which must not be able to forge a book)
    for spec in FUNCTIONS.values():
        if Need.ENGINE_SNAPSHOTS in spec.needs:
            (function,) = [
                r["Properties"]
                for r in of_type(resources[stack], "AWS::Lambda::Function").values()
                if r["Properties"].get("FunctionName") == f"exchange-prod-{spec.name}"
            ]
            roles.add(function["Role"]["Fn::GetAtt"][0])
            env = function["Environment"]["Variables"]
            assert env["EXCHANGE_SNAPSHOT_HMAC_SECRET_ARN"] == {"Ref": key_id}
    readers: set[str] = set()
    for policy in of_type(resources[stack], "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources_ = statement["Resource"]
            named = resources_ if isinstance(resources_, list) else [resources_]
            if {"Ref": key_id} in named:
                readers.update(role["Ref"] for role in policy["Properties"]["Roles"])
    assert readers == roles


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_each_task_reads_the_instruments_store_at_start_and_may_read_it_whole(
    resources: dict[str, Resources], stack: str
) -> None:
    # Symbols listed at run time must survive a restart: the task reads the store's listings
    # (EngineSettings.read_instruments_store) from the instruments global table's replica.
    tasks = of_type(resources[stack], "AWS::ECS::TaskDefinition")
    assert tasks
    table = "arn:aws:dynamodb:{}:<AWS::AccountId>:table/exchange-prod-instruments"
    region = "us-east-1" if stack == PRIMARY else "us-west-2"
    for task in tasks.values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["EXCHANGE_READ_INSTRUMENTS_STORE"] == "true"
        assert env["EXCHANGE_INSTRUMENTS_TABLE"] == "exchange-prod-instruments"
        role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
        granted: set[str] = set()
        for policy in of_type(resources[stack], "AWS::IAM::Policy").values():
            if {"Ref": role} not in policy["Properties"]["Roles"]:
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                named = statement["Resource"]
                arns = {flatten(r) for r in (named if isinstance(named, list) else [named])}
                if table.format(region) in arns:
                    actions = statement["Action"]
                    granted |= set(actions if isinstance(actions, list) else [actions])
        assert {"dynamodb:Scan", "dynamodb:Query", "dynamodb:GetItem"} <= granted
        assert not granted & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    if stack == PRIMARY:  # the table is created in this stack: the services start after it
        ((table, _),) = [
            (name, t)
            for name, t in of_type(resources[stack], "AWS::DynamoDB::GlobalTable").items()
            if t["Properties"]["TableName"] == "exchange-prod-instruments"
        ]
        for service in of_type(resources[stack], "AWS::ECS::Service").values():
            assert table in service["DependsOn"]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_cluster_reports_container_insights_for_the_running_task_alarms(
    resources: dict[str, Resources], stack: str
) -> None:
    # RunningTaskCount per service is a Container Insights metric (ECS/ContainerInsights); the
    # cluster setting turns it on ("Amazon ECS Container Insights with enhanced observability
    # metrics"; AWS::ECS::Cluster ClusterSettings containerInsights: enabled or enhanced).
    (cluster,) = of_type(resources[stack], "AWS::ECS::Cluster").values()
    assert {"Name": "containerInsights", "Value": "enhanced"} in cluster["Properties"][
        "ClusterSettings"
    ]


def test_the_image_builds_the_compiled_core_and_runs_nothing_else() -> None:
    # Given the engine image's Dockerfile, split into its build and runtime stages
    text = (constants.REPO_ROOT / constants.ENGINE_DOCKERFILE).read_text()
    build_stage, runtime_stage = text.split("\nFROM ${PYTHON_RUNTIME_IMAGE}")
    # Then the build stage compiles the core with Cython at the constraints' pin, checks that it
    # loads, and drops the build tools
    assert "pip install Cython setuptools -c constraints.txt" in build_stage
    assert "/opt/app/engine_service/core/build.py --force" in build_stage
    assert "cores.load(cores.NATIVE)" in build_stage
    assert "pip uninstall --yes Cython setuptools" in build_stage
    assert "mypy" not in text
    # And the runtime image requires it: without it the task refuses to start
    assert "EXCHANGE_ENGINE_CORE=native" in runtime_stage
    assert "build.py" not in runtime_stage
