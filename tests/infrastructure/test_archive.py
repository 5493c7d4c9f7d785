"""The market-history archive in both regions: the Firehose delivery stream from the journal
through the transform to Parquet in S3, the Glue table it converts with and Athena reads, the
Athena workgroup and its named queries, the archive bucket, and the alarms.

AWS pages pinned here: "Dynamic partitioning in Amazon Data Firehose" and "Understand
partitioning keys" (a Lambda's keys as ``!{partitionKeyFromLambda:<key>}`` in the S3 prefix; an
error output prefix is required), "Buffer data for dynamic partitioning" (no zero buffering),
"Convert input data format in Amazon Data Firehose" (a JSON deserializer, the Parquet serializer,
the Glue table as schema, at least 64 MiB of buffer, no compression of the stream's own),
"Transform source data in Amazon Data Firehose" (the Lambda processor), "Controlling access with
Amazon Data Firehose" (the delivery role), "Use partition projection with Amazon Athena"
(``projection.*`` and ``storage.location.template``: no crawler), "Implement best practices with
CloudWatch Alarms" (Firehose: DeliveryToS3.DataFreshness beyond the buffering limit).
"""

from typing import Any

import pytest

from exchange.archive.schema import DATA_COLUMNS, EVENTS_PREFIX, PARTITION_KEYS
from lambdas.catalog import FUNCTIONS
from stacks.constructs.archive import BUFFER_MB, PARQUET_SERDE
from stacks.constructs.monitoring.watch import ARCHIVE_FRESHNESS_LIMIT_SECONDS
from tests.infrastructure.conftest import (
    ARCHIVE,
    DR_BASE,
    MAIN_STACKS,
    PRIMARY,
    PRIMARY_BASE,
    Resources,
    flatten,
    nested,
    of_type,
    watched,
)
from tests.infrastructure.test_functions import as_list, function_id
from tests.infrastructure.test_monitoring import metric_of

TRANSFORM = FUNCTIONS["archive_transform"]


def archive(resources: dict[str, Resources], stack: str) -> Resources:
    return nested(resources, ARCHIVE[stack])


def the(resources: Resources, kind: str) -> dict[str, Any]:
    ((_, found),) = of_type(resources, kind).items()
    return found["Properties"]  # type: ignore[no-any-return]


def bucket_name(stack: str) -> str:
    region = "us-east-1" if stack == PRIMARY else "us-west-2"
    return f"exchange-prod-archive-<AWS::AccountId>-{region}"


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_firehose_reads_the_journal_and_runs_the_transform(
    resources: dict[str, Resources], stack: str
) -> None:
    found = archive(resources, stack)
    props = the(found, "AWS::KinesisFirehose::DeliveryStream")
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    source = props["KinesisStreamSourceConfiguration"]
    ((stream, _),) = of_type(resources[stack], "AWS::Kinesis::Stream").items()
    assert source["KinesisStreamARN"] == {"Fn::GetAtt": [stream, "Arn"]}
    destination = props["ExtendedS3DestinationConfiguration"]
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    assert destination["ProcessingConfiguration"]["Enabled"] is True
    assert processor["Type"] == "Lambda"
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    transform = function_id(resources[stack], TRANSFORM)
    assert parameters["LambdaArn"] == {"Fn::GetAtt": [transform, "Arn"]}
    # The transform's response is at most 6 MB and a JSON row is several times its event.
    assert float(parameters["BufferSizeInMBs"]) <= 1


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_firehose_partitions_by_the_transforms_symbol_and_date(
    resources: dict[str, Resources], stack: str
) -> None:
    destination = the(archive(resources, stack), "AWS::KinesisFirehose::DeliveryStream")[
        "ExtendedS3DestinationConfiguration"
    ]
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["Prefix"] == (
        f"{EVENTS_PREFIX}/symbol=!{{partitionKeyFromLambda:symbol}}"
        "/date=!{partitionKeyFromLambda:date}/"
    )
    assert [key for key, _ in PARTITION_KEYS] == ["symbol", "date"]
    assert "!{firehose:error-output-type}" in destination["ErrorOutputPrefix"]
    assert not destination["ErrorOutputPrefix"].startswith(EVENTS_PREFIX)
    assert flatten(destination["BucketARN"]) == f"arn:aws:s3:::{bucket_name(stack)}"
    assert destination["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_firehose_converts_to_parquet_with_the_glue_tables_schema(
    resources: dict[str, Resources], stack: str
) -> None:
    found = archive(resources, stack)
    destination = the(found, "AWS::KinesisFirehose::DeliveryStream")[
        "ExtendedS3DestinationConfiguration"
    ]
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert "OpenXJsonSerDe" in conversion["InputFormatConfiguration"]["Deserializer"]
    serializer = conversion["OutputFormatConfiguration"]["Serializer"]
    assert serializer["ParquetSerDe"]["Compression"] == "SNAPPY"
    schema = conversion["SchemaConfiguration"]
    table = the(found, "AWS::Glue::Table")
    assert (schema["DatabaseName"], schema["TableName"]) == (
        table["DatabaseName"],
        table["TableInput"]["Name"],
    )
    assert schema["VersionId"] == "LATEST"
    assert destination["BufferingHints"]["SizeInMBs"] == BUFFER_MB >= 64
    assert destination["CompressionFormat"] == "UNCOMPRESSED"


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_glue_table_is_the_archive_schema_with_projected_partitions(
    resources: dict[str, Resources], stack: str
) -> None:
    table = the(archive(resources, stack), "AWS::Glue::Table")["TableInput"]
    descriptor = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == list(DATA_COLUMNS)
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == list(PARTITION_KEYS)
    # Athena refuses a name that is both a column and a partition key.
    assert not {c for c, _ in DATA_COLUMNS} & {k for k, _ in PARTITION_KEYS}
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert descriptor["InputFormat"].endswith("MapredParquetInputFormat")
    assert flatten(descriptor["Location"]) == f"s3://{bucket_name(stack)}/{EVENTS_PREFIX}/"
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.symbol.type"] == "injected"
    assert parameters["projection.date.type"] == "date"
    assert parameters["projection.date.format"] == "yyyy-MM-dd"
    assert parameters["projection.date.range"].endswith(",NOW")
    assert flatten(parameters["storage.location.template"]) == (
        f"s3://{bucket_name(stack)}/{EVENTS_PREFIX}/symbol=${{symbol}}/date=${{date}}/"
    )


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_athena_workgroup_enforces_encrypted_results_in_the_bucket(
    resources: dict[str, Resources], stack: str
) -> None:
    found = archive(resources, stack)
    workgroup = the(found, "AWS::Athena::WorkGroup")
    configuration = workgroup["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    results = configuration["ResultConfiguration"]
    assert flatten(results["OutputLocation"]) == f"s3://{bucket_name(stack)}/athena-results/"
    assert results["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    queries = {
        q["Properties"]["Name"]: q["Properties"]
        for q in of_type(found, "AWS::Athena::NamedQuery").values()
    }
    assert set(queries) == {"Trades", "Candles1m", "OrderEvents"}
    database = the(found, "AWS::Glue::Table")["DatabaseName"]
    for query in queries.values():
        assert query["Database"] == database
        # symbol is an injected partition: every query must name it
        assert "symbol = '" in query["QueryString"]
        assert f'"{database}"."events"' in query["QueryString"]
    assert "min_by(price, seq)" in queries["Candles1m"]["QueryString"]
    # "Understand data delivery in Amazon Data Firehose": delivery is at least once, so a record
    # may land twice; every query reads distinct rows (a duplicate doubles no trade or volume).
    for query in queries.values():
        assert "SELECT DISTINCT seq" in query["QueryString"]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_delivery_role_reaches_only_the_stream_bucket_function_table_key_and_logs(
    resources: dict[str, Resources], stack: str
) -> None:
    found = archive(resources, stack)
    statements = [
        s
        for policy in of_type(found, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    granted = {a: as_list(s["Resource"]) for s in statements for a in as_list(s["Action"])}
    assert not [a for a, r in granted.items() if "*" in r], "nothing on '*'"
    assert {a.split(":")[0] for a in granted} == {"kinesis", "s3", "kms", "lambda", "glue", "logs"}
    assert "s3:DeleteObject" not in granted
    transform = function_id(resources[stack], TRANSFORM)
    assert granted["lambda:InvokeFunction"] == [{"Fn::GetAtt": [transform, "Arn"]}]
    role = the(found, "AWS::IAM::Role")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert "sts:ExternalId" in trust["Condition"]["StringEquals"]


@pytest.mark.parametrize("base", [PRIMARY_BASE, DR_BASE])
def test_the_archive_bucket_is_private_encrypted_and_tiers_to_glacier_ir(
    resources: dict[str, Resources], base: str
) -> None:
    (bucket,) = [
        r["Properties"]
        for r in of_type(resources[base], "AWS::S3::Bucket").values()
        if "archive" in flatten(r["Properties"].get("BucketName", ""))
    ]
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "archive/"
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    tiers = [(t["StorageClass"], t["TransitionInDays"]) for t in rules["tiering"]["Transitions"]]
    assert tiers == [("STANDARD_IA", 30), ("GLACIER_IR", 180)]
    assert "ExpirationInDays" not in rules["tiering"]  # history is kept
    assert rules["query-results"]["Prefix"] == "athena-results/"


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_a_stale_or_failing_archive_pages(resources: dict[str, Resources], stack: str) -> None:
    alarms = {}
    for alarm in of_type(watched(resources, stack), "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        namespace, metric, dimensions = metric_of(props)
        if namespace == "AWS/Firehose":
            assert dimensions == {"DeliveryStreamName": "exchange-prod-archive"}
            alarms[metric] = props
    fresh = alarms["DeliveryToS3.DataFreshness"]
    assert fresh["Threshold"] == ARCHIVE_FRESHNESS_LIMIT_SECONDS == 900  # 15 minutes at most
    assert fresh["ComparisonOperator"] == "GreaterThanThreshold"
    failed = alarms["FailedConversion.Records"]
    assert (failed["Threshold"], failed["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    processed = alarms["ExecuteProcessing.Success"]
    assert (processed["Threshold"], processed["ComparisonOperator"]) == (1, "LessThanThreshold")
