"""The market-history archive: the journal delivered to S3 as Parquet, partitioned by symbol and
date, and queryable with Athena. In a nested stack of the main stack (CloudFormation's 500
resources per stack: "CloudFormation quotas"); the bucket is the region's base stack's
(``stacks.constructs.snapshots.ArchiveStore``).

- Amazon Data Firehose reads the journal stream (``KinesisStreamAsSource``; the stream is already
  encrypted with the region's key, so the delivery stream takes no encryption of its own: SSE
  applies to Direct PUT sources only). The ``archive_transform`` function turns each journal
  record into newline-separated JSON rows and returns the partition keys ``symbol`` and ``date`` as
  the record's metadata ("Transform source data in Amazon Data Firehose"; "Dynamic partitioning in
  Amazon Data Firehose": a Lambda's keys are ``!{partitionKeyFromLambda:<key>}`` in the prefix, and
  a dynamically partitioned stream must name an error output prefix). Its processor buffer is 1 MB:
  a JSON row is several times its msgpack event, and Lambda's response is at most 6 MB.
- Record format conversion ("Convert input data format in Amazon Data Firehose"): the OpenX JSON
  SerDe reads the rows, the Parquet SerDe (Snappy) writes them, with the Glue table's columns as
  the schema. Conversion needs a buffer of at least 64 MiB and no compression of the stream's own.
- The Glue table (``exchange.archive.schema``: one definition for the transform, this table and
  the local Parquet writer) has the partition keys apart from the data columns and uses partition
  projection ("Use partition projection with Amazon Athena"): ``date`` a date range, ``symbol``
  injected (each query names its symbols), so no crawler or ``MSCK REPAIR`` ever runs.
- The Athena workgroup writes results under ``athena-results/`` of the bucket, encrypted with the
  data key, and enforces that configuration on every query; named queries for trades, 1-minute
  candles from trades and one order's events show how to read it.
"""

from typing import Final

from aws_cdk import Aws, NestedStack, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from exchange.archive.schema import DATA_COLUMNS, EVENTS_PREFIX, PARTITION_KEYS
from stacks.constructs.archive_queries import named_queries
from stacks.constructs.nag import acknowledge, render

ERRORS_PREFIX: Final = "errors/"
RESULTS_PREFIX: Final = "athena-results/"
# "Dynamic partitioning" and "Convert input data format": at least 64 MiB with either; the interval
# bounds how stale the archive may be (DeliveryToS3.DataFreshness, alarmed).
BUFFER_MB: Final = 128
BUFFER_SECONDS: Final = 300
PROCESSOR_BUFFER_MB: Final = 1
PROCESSOR_BUFFER_SECONDS: Final = 60
PROCESSOR_RETRIES: Final = 3
PARTITION_RETRY_SECONDS: Final = 300
# The first day the archive may hold: partition projection's date range starts here.
FIRST_DATE: Final = "2024-01-01"
# "Controlling access with Amazon Data Firehose": a Kinesis source, an S3 destination.
STREAM_ACTIONS: Final = (
    "kinesis:DescribeStream",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
)
BUCKET_ACTIONS: Final = (
    "s3:AbortMultipartUpload",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:PutObject",
)
PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def s3_prefix() -> str:
    """``events/symbol=!{partitionKeyFromLambda:symbol}/date=!{...:date}/``."""
    keys = "/".join(f"{key}=!{{partitionKeyFromLambda:{key}}}" for key, _ in PARTITION_KEYS)
    return f"{EVENTS_PREFIX}/{keys}/"


def projection(bucket_name: str) -> dict[str, str]:
    """The table parameters of partition projection on ``symbol`` (injected) and ``date``."""
    template = "/".join(f"{key}=${{{key}}}" for key, _ in PARTITION_KEYS)
    return {
        "classification": "parquet",
        "projection.enabled": "true",
        "projection.symbol.type": "injected",
        "projection.date.type": "date",
        "projection.date.format": "yyyy-MM-dd",
        "projection.date.range": f"{FIRST_DATE},NOW",
        "projection.date.interval": "1",
        "projection.date.interval.unit": "DAYS",
        "storage.location.template": f"s3://{bucket_name}/{EVENTS_PREFIX}/{template}/",
    }


class Archive(NestedStack):
    """``database``/``table`` (Glue), ``delivery_stream`` (Firehose) and ``workgroup`` (Athena)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        bucket_name: str,
        stream_arn: str,
        transform: lambda_.IFunction,
        key_arn: str,
        retention: logs.RetentionDays,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id, description=f"{name}: the market-history archive")
        key = kms.Key.from_key_arn(self, "DataKey", key_arn)
        bucket = s3.Bucket.from_bucket_attributes(
            self, "Bucket", bucket_name=bucket_name, encryption_key=key
        )
        database_name = name.replace("-", "_")
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name, description="The exchange's archived journal events"
            ),
        )
        self.table = glue.CfnTable(
            self,
            "Events",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name="events",
                description="One row per journal event (exchange.archive.schema)",
                table_type="EXTERNAL_TABLE",
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=key, type=kind)
                    for key, kind in PARTITION_KEYS
                ],
                parameters=projection(bucket_name),
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[
                        glue.CfnTable.ColumnProperty(name=column, type=kind)
                        for column, kind in DATA_COLUMNS
                    ],
                    location=f"s3://{bucket_name}/{EVENTS_PREFIX}/",
                    input_format=PARQUET_INPUT,
                    output_format=PARQUET_OUTPUT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
                ),
            ),
        )
        self.table.node.add_dependency(self.database)
        logs_group = logs.LogGroup(
            self,
            "DeliveryLogs",
            retention=retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        log_stream = logs.LogStream(self, "DeliveryLogStream", log_group=logs_group)
        role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": Aws.ACCOUNT_ID}},
            ),
            description="Firehose: reads the journal, runs the transform, writes the archive",
        )
        self._grant(
            role=role,
            bucket=bucket,
            stream_arn=stream_arn,
            transform=transform,
            key_arn=key_arn,
            log_group=logs_group,
            database_name=database_name,
        )
        table_arn = self.format_arn(
            service="glue", resource="table", resource_name=f"{database_name}/events"
        )
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=f"{name}-archive",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=stream_arn, role_arn=role.role_arn
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=s3_prefix(),
                error_output_prefix=f"{ERRORS_PREFIX}!{{firehose:error-output-type}}/"
                "!{timestamp:yyyy-MM-dd}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    size_in_m_bs=BUFFER_MB, interval_in_seconds=BUFFER_SECONDS
                ),
                compression_format="UNCOMPRESSED",
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=key_arn
                    )
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=logs_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
                processing_configuration=self._processing(transform),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(
                        duration_in_seconds=PARTITION_RETRY_SECONDS
                    ),
                ),
                data_format_conversion_configuration=firehose.CfnDeliveryStream.DataFormatConversionConfigurationProperty(
                    enabled=True,
                    input_format_configuration=firehose.CfnDeliveryStream.InputFormatConfigurationProperty(
                        deserializer=firehose.CfnDeliveryStream.DeserializerProperty(
                            open_x_json_ser_de=firehose.CfnDeliveryStream.OpenXJsonSerDeProperty()
                        )
                    ),
                    output_format_configuration=firehose.CfnDeliveryStream.OutputFormatConfigurationProperty(
                        serializer=firehose.CfnDeliveryStream.SerializerProperty(
                            parquet_ser_de=firehose.CfnDeliveryStream.ParquetSerDeProperty(
                                compression="SNAPPY"
                            )
                        )
                    ),
                    schema_configuration=firehose.CfnDeliveryStream.SchemaConfigurationProperty(
                        catalog_id=Aws.ACCOUNT_ID,
                        database_name=database_name,
                        table_name="events",
                        region=Aws.REGION,
                        role_arn=role.role_arn,
                        version_id="LATEST",
                    ),
                ),
            ),
        )
        # Firehose checks its role's permissions when the stream is created.
        self.delivery_stream.node.add_dependency(role)
        self.delivery_stream.node.add_dependency(self.table)
        acknowledge(
            self.delivery_stream,
            {
                "AwsSolutions-KDF1": "The source is the journal stream, itself encrypted with"
                " the region's data key; Firehose SSE applies to Direct PUT sources only, and the"
                " objects it writes are encrypted with the data key too.",
            },
        )
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{name}-archive",
            description="Queries of the archived journal (results in the archive bucket)",
            state="ENABLED",
            recursive_delete_option=not retain,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key_arn
                    ),
                ),
            ),
        )
        for query_id, (description, query) in named_queries(database_name).items():
            named = athena.CfnNamedQuery(
                self,
                query_id,
                name=query_id,
                description=description,
                database=database_name,
                query_string=query,
                work_group=self.workgroup.ref,
            )
            named.node.add_dependency(self.workgroup)
            named.node.add_dependency(self.table)
        self.table_arn = table_arn

    def _processing(
        self, transform: lambda_.IFunction
    ) -> firehose.CfnDeliveryStream.ProcessingConfigurationProperty:
        """The transform Lambda, with a small buffer (its response is at most 6 MB)."""
        parameters = {
            "LambdaArn": transform.function_arn,
            "BufferSizeInMBs": str(PROCESSOR_BUFFER_MB),
            "BufferIntervalInSeconds": str(PROCESSOR_BUFFER_SECONDS),
            "NumberOfRetries": str(PROCESSOR_RETRIES),
        }
        return firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
            enabled=True,
            processors=[
                firehose.CfnDeliveryStream.ProcessorProperty(
                    type="Lambda",
                    parameters=[
                        firehose.CfnDeliveryStream.ProcessorParameterProperty(
                            parameter_name=key, parameter_value=value
                        )
                        for key, value in parameters.items()
                    ],
                )
            ],
        )

    def _grant(
        self,
        *,
        role: iam.Role,
        bucket: s3.IBucket,
        stream_arn: str,
        transform: lambda_.IFunction,
        key_arn: str,
        log_group: logs.LogGroup,
        database_name: str,
    ) -> None:
        """What "Controlling access with Amazon Data Firehose" lists for a Kinesis source, an S3
        destination under SSE-KMS, a Lambda processor, format conversion and logging: nothing
        beyond this stream, bucket, function, table, key and log group."""
        objects = bucket.arn_for_objects("*")
        glue_arns = [
            self.format_arn(service="glue", resource="catalog"),
            self.format_arn(service="glue", resource="database", resource_name=database_name),
            self.format_arn(
                service="glue", resource="table", resource_name=f"{database_name}/events"
            ),
        ]
        statements = [
            (list(STREAM_ACTIONS), [stream_arn]),
            (list(BUCKET_ACTIONS), [bucket.bucket_arn, objects]),
            (["kms:Decrypt", "kms:GenerateDataKey"], [key_arn]),
            (
                ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                [transform.function_arn],
            ),
            (["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"], glue_arns),
            (["logs:PutLogEvents"], [log_group.log_group_arn]),
        ]
        for actions, resources in statements:
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        acknowledge(
            role,
            {
                f"AwsSolutions-IAM5[Resource::{render(self, objects)}]": "Firehose names each"
                " object by its partition and time, so it writes any key of the archive bucket"
                " (and reads back its own multipart uploads); no other bucket.",
                f"AwsSolutions-IAM5[Resource::{render(self, log_group.log_group_arn)}]": "The"
                " delivery stream's own log group: its log stream is named by Firehose.",
            },
        )


__all__ = ["Archive", "projection", "s3_prefix"]
