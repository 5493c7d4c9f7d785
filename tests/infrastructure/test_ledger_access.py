"""How the functions reach the Aurora ledger: through each region's RDS Proxy (TLS and IAM
authentication required), each ledger function as its own database role with ``rds-db:connect``
for exactly that user, none of them with the admin secret; only the migration runner reads the
admin secret and the roles' secrets and reaches the cluster itself."""

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from exchange.settings import database_role
from lambdas.catalog import FUNCTIONS, FunctionSpec, Need
from stacks.config import DeploymentConfig
from stacks.constructs.data.ledger_db import role_output_id
from tests.infrastructure.conftest import DR, MAIN_STACKS, PRIMARY, Resources, flatten, of_type
from tests.infrastructure.test_functions import as_list, function, role_statements

LEDGER = [spec for spec in FUNCTIONS.values() if Need.LEDGER in spec.needs]
ROLES = sorted(database_role(spec.name) for spec in LEDGER)
LEDGER_CASES = [(stack, spec) for stack in MAIN_STACKS for spec in LEDGER]
LEDGER_IDS = [f"{stack.split('-')[-1]}-{spec.name}" for stack, spec in LEDGER_CASES]
(MIGRATE,) = [spec for spec in FUNCTIONS.values() if Need.LEDGER_ADMIN in spec.needs]


def proxy(resources: Resources) -> tuple[str, dict[str, Any]]:
    ((logical, found),) = of_type(resources, "AWS::RDS::DBProxy").items()
    return logical, found["Properties"]


def role_secrets(resources: Resources, config: DeploymentConfig) -> dict[str, str]:
    """Role -> logical id of its secret (the primary creates them)."""
    prefix = f"{config.resource_name('ledger')}/roles/"
    return {
        props["Name"].removeprefix(prefix): logical
        for logical, secret in of_type(resources, "AWS::SecretsManager::Secret").items()
        if (props := secret["Properties"]).get("Name", "").startswith(prefix)
    }


def admin_secret(resources: Resources) -> dict[str, str]:
    """The admin secret as the functions name it: the cluster's secret attachment."""
    ((logical, _),) = of_type(resources, "AWS::SecretsManager::SecretTargetAttachment").items()
    return {"Ref": logical}


def group_of(resources: Resources, spec: FunctionSpec) -> dict[str, Any]:
    (group,) = function(resources, spec)["VpcConfig"]["SecurityGroupIds"]
    return group  # type: ignore[no-any-return]


def ingress_sources(resources: Resources, group_logical: str) -> list[dict[str, Any]]:
    own = {"Fn::GetAtt": [group_logical, "GroupId"]}
    return [
        r["Properties"]["SourceSecurityGroupId"]
        for r in of_type(resources, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == own
    ]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_each_region_has_a_proxy_requiring_tls_and_iam_in_front_of_its_cluster(
    resources: dict[str, Resources], stack: str
) -> None:
    logical, props = proxy(resources[stack])
    assert props["EngineFamily"] == "POSTGRESQL"
    assert props["RequireTLS"] is True
    # One login per function's role; a client must bring an IAM token for it ("Connecting to a
    # database through RDS Proxy": with IAM authentication the proxy still logs in to Aurora
    # with the user name and password of the role's Secrets Manager secret).
    assert len(props["Auth"]) == len(ROLES)
    for auth in props["Auth"]:
        assert (auth["AuthScheme"], auth["IAMAuth"]) == ("SECRETS", "REQUIRED")
    # In the private subnets, behind a security group of its own
    assert len(props["VpcSubnetIds"]) == 3
    assert all("privateSubnet" in flatten(subnet) for subnet in props["VpcSubnetIds"])
    ((group, _),) = [
        (n, r) for n, r in of_type(resources[stack], "AWS::EC2::SecurityGroup").items()
        if n.startswith("DataLedgerProxySecurityGroup")
    ]  # fmt: skip
    assert props["VpcSecurityGroupIds"] == [{"Fn::GetAtt": [group, "GroupId"]}]
    ((_, target),) = of_type(resources[stack], "AWS::RDS::DBProxyTargetGroup").items()
    ((cluster, _),) = of_type(resources[stack], "AWS::RDS::DBCluster").items()
    assert target["Properties"]["DBProxyName"] == {"Ref": logical}
    assert target["Properties"]["DBClusterIdentifiers"] == [{"Ref": cluster}]


def test_each_role_has_its_own_generated_secret_replicated_to_the_dr_region(
    resources: dict[str, Resources], config: DeploymentConfig
) -> None:
    secrets = role_secrets(resources[PRIMARY], config)
    assert sorted(secrets) == ROLES
    (_, props) = proxy(resources[PRIMARY])
    assert sorted(a["SecretArn"]["Ref"] for a in props["Auth"]) == sorted(secrets.values())
    for role, logical in secrets.items():
        secret = resources[PRIMARY][logical]["Properties"]
        generated = secret["GenerateSecretString"]
        # What RDS Proxy reads: {"username": <the role>, "password": <generated>}
        assert json.loads(generated["SecretStringTemplate"]) == {"username": role}
        assert generated["GenerateStringKey"] == "password"
        assert set(" %:/@'\"\\") <= set(generated["ExcludeCharacters"])
        assert [r["Region"] for r in secret["ReplicaRegions"]] == [config.dr_region]
        assert secret["KmsKeyId"]
    assert not role_secrets(resources[DR], config), "the DR region reads the replicas"


def test_the_dr_proxy_reads_the_replicas_by_their_full_arn_in_its_own_region(
    templates: dict[str, Template], resources: dict[str, Resources], config: DeploymentConfig
) -> None:
    # "The ARN for a replicated secret is the same as the primary secret except for the Region"
    # (Secrets Manager, "Replicate AWS Secrets Manager secrets across Regions"): the primary
    # publishes each replica's ARN, and the DR proxy reads that output.
    outputs = templates[PRIMARY].to_json()["Outputs"]
    secrets = role_secrets(resources[PRIMARY], config)
    (_, props) = proxy(resources[DR])
    read = [a["SecretArn"]["Fn::GetStackOutput"] for a in props["Auth"]]
    assert {(r["StackName"], r["Region"]) for r in read} == {(PRIMARY, config.primary_region)}
    assert sorted(r["OutputName"] for r in read) == sorted(role_output_id(r) for r in ROLES)
    for role in ROLES:
        value = outputs[role_output_id(role)]["Value"]
        arn = flatten(value)
        assert arn.startswith(f"arn:aws:secretsmanager:{config.dr_region}:<AWS::AccountId>:secret:")
        # then the name and suffix: the 7th field of the primary secret's own ARN
        assert value["Fn::Join"][1][-1] == {
            "Fn::Select": [6, {"Fn::Split": [":", {"Ref": secrets[role]}]}]
        }


@pytest.mark.parametrize(("stack", "spec"), LEDGER_CASES, ids=LEDGER_IDS)
def test_a_ledger_function_connects_through_the_proxy_as_its_own_role(
    resources: dict[str, Resources], stack: str, spec: FunctionSpec
) -> None:
    proxy_logical, _ = proxy(resources[stack])
    env = function(resources[stack], spec)["Environment"]["Variables"]
    assert env["EXCHANGE_DATABASE_HOST"] == {"Fn::GetAtt": [proxy_logical, "Endpoint"]}
    assert env["EXCHANGE_DATABASE_PORT"] == "5432"
    assert env["EXCHANGE_DATABASE_NAME"] == "exchange"
    assert env["EXCHANGE_DATABASE_USER"] == database_role(spec.name)
    assert "EXCHANGE_DATABASE_SECRET_ARN" not in env
    assert "EXCHANGE_DATABASE_URL" not in env
    # rds-db:connect for its own user on this proxy, and nothing else of the database
    statements = list(role_statements(resources[stack], spec))
    connects = [s for s in statements if "rds-db:connect" in as_list(s["Action"])]
    assert [as_list(s["Action"]) for s in connects] == [["rds-db:connect"]]
    (resource,) = as_list(connects[0]["Resource"])
    arn = flatten(resource)
    region = "us-east-1" if stack == PRIMARY else "us-west-2"
    assert arn.startswith(f"arn:aws:rds-db:{region}:<AWS::AccountId>:dbuser:"), arn
    # arn:aws:rds-db:<region>:<account>:dbuser:<the proxy's prx- id>/<db user>, the proxy's id
    # being the last field of its ARN ("Creating and using an IAM policy for IAM database
    # access"; RDS Proxy: "Connecting to a database using IAM authentication")
    proxy_id = {
        "Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": [proxy_logical, "DBProxyArn"]}]}]
    }
    assert proxy_id in resource["Fn::Join"][1]
    assert arn.endswith(f"/{database_role(spec.name)}")
    # It reads no database secret: the admin one least of all
    read = [
        r for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]  # fmt: skip
    admin = admin_secret(resources[stack]) if stack == PRIMARY else None
    assert admin not in read
    assert not any("ledger/" in flatten(r) for r in read), read


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_only_the_ledger_functions_reach_the_proxy_and_only_the_proxy_and_migrations_the_cluster(
    resources: dict[str, Resources], stack: str
) -> None:
    groups = of_type(resources[stack], "AWS::EC2::SecurityGroup")
    (proxy_group,) = [n for n in groups if n.startswith("DataLedgerProxySecurityGroup")]
    (cluster_group,) = [n for n in groups if n.startswith("DataLedgerClusterSecurityGroup")]
    into_proxy = ingress_sources(resources[stack], proxy_group)
    assert sorted(map(flatten, into_proxy)) == sorted(
        flatten(group_of(resources[stack], spec)) for spec in LEDGER
    )
    into_cluster = {flatten(source) for source in ingress_sources(resources[stack], cluster_group)}
    allowed = {
        f"<{proxy_group}.GroupId>",
        flatten(group_of(resources[stack], MIGRATE)),
        *(f"<{n}.GroupId>" for n in groups if "RotationSingleUser" in n),
    }
    assert into_cluster <= allowed
    assert f"<{proxy_group}.GroupId>" in into_cluster
    for spec in LEDGER:
        assert flatten(group_of(resources[stack], spec)) not in into_cluster, spec.name


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_migration_runner_is_the_admin_and_gives_each_role_its_login(
    resources: dict[str, Resources], config: DeploymentConfig, stack: str
) -> None:
    props = function(resources[stack], MIGRATE)
    env = props["Environment"]["Variables"]
    assert "EXCHANGE_DATABASE_HOST" not in env, "it connects to the writer, not the proxy"
    arns = env["EXCHANGE_DATABASE_ROLE_SECRET_ARNS"]
    # A JSON object role -> this region's secret of that role, built by CloudFormation
    (separator, parts) = arns["Fn::Join"]
    assert separator == ""
    text = "".join(part if isinstance(part, str) else "ARN" for part in parts)
    assert json.loads(text) == dict.fromkeys(ROLES, "ARN")
    statements = list(role_statements(resources[stack], MIGRATE))
    read = [
        r for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]  # fmt: skip
    if stack == PRIMARY:
        assert env["EXCHANGE_DATABASE_SECRET_ARN"] == admin_secret(resources[stack])
        secrets = role_secrets(resources[stack], config)
        assert [p for p in parts if isinstance(p, dict)] == [{"Ref": secrets[r]} for r in ROLES]
        assert admin_secret(resources[stack]) in read
        assert all({"Ref": secrets[role]} in read for role in ROLES)
    else:
        # The replicas, by the ARNs the primary publishes
        assert [p["Fn::GetStackOutput"]["OutputName"] for p in parts if isinstance(p, dict)] == [
            role_output_id(r) for r in ROLES
        ]
        assert f"{config.resource_name('ledger')}/admin" in flatten(
            env["EXCHANGE_DATABASE_SECRET_ARN"]
        )
    assert len(read) == 1 + len(ROLES)
    assert not [s for s in statements if "rds-db:connect" in as_list(s["Action"])]


def test_no_ledger_function_is_wired_to_the_cluster_by_name(
    resources: dict[str, Resources],
) -> None:
    # The functions' environments name the proxy, never the cluster's own endpoint.
    ((cluster, _),) = of_type(resources[PRIMARY], "AWS::RDS::DBCluster").items()
    for spec in FUNCTIONS.values():
        env = json.dumps(function(resources[PRIMARY], spec)["Environment"]["Variables"])
        assert cluster not in env, spec.name
