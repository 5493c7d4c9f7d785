"""Data at rest: global tables from the single table source, the Aurora global database, Redis,
the snapshot buckets and the journal, each encrypted, replicated where the DR plan needs it, and
nothing public."""

from typing import Any

import pytest

from exchange.tables import TABLE_SPECS, TableSpec
from stacks.config import DeploymentConfig
from tests.infrastructure.conftest import (
    DR,
    DR_BASE,
    MAIN_STACKS,
    PRIMARY,
    PRIMARY_BASE,
    Resources,
    flatten,
    of_type,
)


def global_table(resources: dict[str, Resources], spec: TableSpec) -> dict[str, Any]:
    name = f"exchange-prod-{spec.logical_name}"
    tables = of_type(resources[PRIMARY], "AWS::DynamoDB::GlobalTable")
    (table,) = [t for t in tables.values() if t["Properties"]["TableName"] == name]
    return table["Properties"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("spec", TABLE_SPECS, ids=lambda spec: spec.logical_name)
def test_each_table_is_global_with_pitr_and_a_customer_key_in_both_regions(
    resources: dict[str, Resources], config: DeploymentConfig, spec: TableSpec
) -> None:
    table = global_table(resources, spec)
    replicas = {replica["Region"]: replica for replica in table["Replicas"]}
    assert set(replicas) == {config.primary_region, config.dr_region}
    for region, replica in replicas.items():
        assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], region
        assert replica["SSESpecification"]["KMSMasterKeyId"], region
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.mark.parametrize("spec", TABLE_SPECS, ids=lambda spec: spec.logical_name)
def test_each_table_has_the_keys_indexes_and_ttl_of_its_model(
    resources: dict[str, Resources], spec: TableSpec
) -> None:
    table = global_table(resources, spec)
    keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
    assert keys["HASH"] == spec.partition_key.name
    assert keys.get("RANGE") == (spec.sort_key.name if spec.sort_key else None)
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {index.name for index in spec.indexes}
    for index in spec.indexes:
        assert indexes[index.name]["Projection"]["ProjectionType"] == index.projection
    ttl = table.get("TimeToLiveSpecification", {})
    assert ttl.get("AttributeName") == spec.ttl_attribute
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_the_dr_region_creates_no_tables_of_its_own(resources: dict[str, Resources]) -> None:
    # Its tables are the primary's replicas; a second definition would fork the data.
    assert not of_type(resources[DR], "AWS::DynamoDB::GlobalTable")
    assert not of_type(resources[DR], "AWS::DynamoDB::Table")


def test_aurora_primary_is_private_encrypted_iam_enabled_and_heads_a_global_database(
    resources: dict[str, Resources], config: DeploymentConfig
) -> None:
    (cluster,) = of_type(resources[PRIMARY], "AWS::RDS::DBCluster").values()
    props = cluster["Properties"]
    assert props["StorageEncrypted"] is True
    assert props["KmsKeyId"]
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["BackupRetentionPeriod"] == 35
    assert props["DeletionProtection"] is True
    assert cluster["DeletionPolicy"] == "Retain"
    (global_cluster,) = of_type(resources[PRIMARY], "AWS::RDS::GlobalCluster").values()
    assert global_cluster["Properties"]["GlobalClusterIdentifier"] == config.resource_name("ledger")
    source = flatten(global_cluster["Properties"]["SourceDBClusterIdentifier"])
    assert "rds" in source
    assert "cluster" in source


def test_the_dr_region_has_the_aurora_secondary_joined_to_the_global_database(
    resources: dict[str, Resources], config: DeploymentConfig
) -> None:
    (cluster,) = of_type(resources[DR], "AWS::RDS::DBCluster").values()
    props = cluster["Properties"]
    assert props["GlobalClusterIdentifier"] == config.resource_name("ledger")
    # A secondary takes its users from the primary: no credentials of its own.
    assert "MasterUsername" not in props
    assert "MasterUserPassword" not in props
    assert props["StorageEncrypted"] is True
    assert not of_type(resources[DR], "AWS::RDS::GlobalCluster")


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_no_database_instance_is_publicly_accessible(
    resources: dict[str, Resources], stack: str
) -> None:
    instances = of_type(resources[stack], "AWS::RDS::DBInstance")
    assert len(instances) == 2  # writer and reader
    for name, instance in instances.items():
        assert instance["Properties"]["PubliclyAccessible"] is False, name


def test_the_ledger_secret_rotates_and_is_replicated_to_the_dr_region(
    resources: dict[str, Resources], config: DeploymentConfig
) -> None:
    secrets = of_type(resources[PRIMARY], "AWS::SecretsManager::Secret")
    (ledger,) = [
        s
        for s in secrets.values()
        if s["Properties"].get("Name") == f"{config.resource_name('ledger')}/admin"
    ]
    assert [r["Region"] for r in ledger["Properties"]["ReplicaRegions"]] == [config.dr_region]
    assert of_type(resources[PRIMARY], "AWS::SecretsManager::RotationSchedule")


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_redis_is_multi_az_with_tls_and_encryption_at_rest(
    resources: dict[str, Resources], stack: str
) -> None:
    (group,) = of_type(resources[stack], "AWS::ElastiCache::ReplicationGroup").values()
    props = group["Properties"]
    assert props["MultiAZEnabled"]
    assert props["AutomaticFailoverEnabled"]
    assert props["TransitEncryptionEnabled"]
    assert props["AtRestEncryptionEnabled"]
    assert props["KmsKeyId"]


@pytest.mark.parametrize("stack", [PRIMARY, DR, PRIMARY_BASE, DR_BASE])
def test_every_bucket_is_encrypted_private_and_tls_only(
    resources: dict[str, Resources], stack: str
) -> None:
    buckets = of_type(resources[stack], "AWS::S3::Bucket")
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in of_type(resources[stack], "AWS::S3::BucketPolicy").values()
    ]
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
    denies_http = [
        s
        for statements in policies
        for s in statements
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool") == {"aws:SecureTransport": "false"}
    ]
    assert len(denies_http) == len(buckets)


def snapshot_bucket(resources: Resources) -> dict[str, object]:
    (bucket,) = [
        b["Properties"]
        for b in of_type(resources, "AWS::S3::Bucket").values()
        if "exchange-prod-snapshots" in flatten(b["Properties"].get("BucketName", ""))
    ]
    return bucket  # type: ignore[no-any-return]


def test_snapshots_are_kms_encrypted_versioned_tiered_and_replicated_to_dr(
    resources: dict[str, Resources], config: DeploymentConfig
) -> None:
    bucket = snapshot_bucket(resources[PRIMARY_BASE])
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]  # type: ignore[index]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (tiering,) = bucket["LifecycleConfiguration"]["Rules"]  # type: ignore[index]
    assert [t["StorageClass"] for t in tiering["Transitions"]] == ["STANDARD_IA", "GLACIER"]
    (replication,) = bucket["ReplicationConfiguration"]["Rules"]  # type: ignore[index]
    destination = replication["Destination"]
    assert f"-{config.dr_region}" in flatten(destination["Bucket"])
    assert destination["EncryptionConfiguration"]["ReplicaKmsKeyID"]
    assert bucket["LoggingConfiguration"]  # access logs, to the access-log bucket


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_journal_stream_is_kms_encrypted_with_24h_retention(
    resources: dict[str, Resources], config: DeploymentConfig, stack: str
) -> None:
    (stream,) = of_type(resources[stack], "AWS::Kinesis::Stream").values()
    props = stream["Properties"]
    assert props["StreamEncryption"]["EncryptionType"] == "KMS"
    assert props["StreamEncryption"]["KeyId"]
    assert props["RetentionPeriodHours"] == 24
    assert props["StreamModeDetails"]["StreamMode"] == config.kinesis_mode.upper().replace("-", "_")


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_broker_is_a_private_multi_az_rabbitmq_cluster(
    resources: dict[str, Resources], stack: str
) -> None:
    (broker,) = of_type(resources[stack], "AWS::AmazonMQ::Broker").values()
    props = broker["Properties"]
    assert props["PubliclyAccessible"] is False
    assert props["EngineType"] == "RABBITMQ"
    assert props["DeploymentMode"] == "CLUSTER_MULTI_AZ"
    # Credentials come from Secrets Manager, never a literal in the template.
    (user,) = props["Users"]
    assert "{{resolve:secretsmanager:" in flatten(user["Password"])
