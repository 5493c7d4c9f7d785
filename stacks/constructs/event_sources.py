"""The event source mappings the function factory wires by trigger: the journal (Kinesis), each
shard's dead-letter queue (Amazon MQ) and the dead man's switch's timers (SQS)."""

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from exchange.messaging import dead_letter_queue
from stacks import constants
from stacks.constructs.messaging import BROKER_VIRTUAL_HOST, Broker, Journal
from stacks.constructs.nag import acknowledge

# What an Amazon MQ event source mapping reads with the function's role, besides the broker's
# secret ("Using Lambda with Amazon MQ", execution role permissions): the broker's network.
MQ_NETWORK_ACTIONS: Final = (
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
MQ_BATCH_SIZE: Final = 10
# The dead man's switch: up to 10 timers a call, each as soon as it falls due (no batching
# window), and only the failed ones back to the queue ("Handling errors for an SQS event source
# in Lambda": ReportBatchItemFailures).
TIMER_BATCH_SIZE: Final = 10
TIMER_BATCHING_WINDOW_SECONDS: Final = 0


def subscribe_to_journal(
    scope: Construct,
    name: str,
    function: lambda_.Function,
    *,
    journal: Journal,
    key: kms.IKey,
    retain: bool,
) -> sqs.Queue:
    """Journal consumer: per-record failure reporting, bisect, bounded retries, and the batch's
    metadata to the function's own failure queue (returned) once retries are spent."""
    failures = sqs.Queue(
        scope,
        "Failures",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
    )
    acknowledge(
        failures,
        {
            "AwsSolutions-SQS3": "This queue is itself the on-failure destination of a"
            " Kinesis event source mapping; an operator drains it after a fix.",
        },
    )
    options = {
        "starting_position": lambda_.StartingPosition.TRIM_HORIZON,
        "batch_size": constants.KINESIS_BATCH_SIZE,
        "bisect_batch_on_error": True,
        "report_batch_item_failures": True,
        "retry_attempts": constants.KINESIS_RETRY_ATTEMPTS,
        "parallelization_factor": constants.KINESIS_PARALLELIZATION,
        "on_failure": sources.SqsDlq(failures),
    }
    consumer = journal.consumers.get(name)
    source: lambda_.IEventSource = (
        sources.KinesisConsumerEventSource(consumer, **options)  # type: ignore[arg-type]
        if consumer is not None
        else sources.KinesisEventSource(journal.stream, **options)  # type: ignore[arg-type]
    )
    function.add_event_source(source)
    return failures


def consume_dead_letters(
    scope: Construct,
    function: lambda_.Function,
    role: iam.Role,
    *,
    broker: Broker,
    shards: Sequence[str],
) -> None:
    """One Amazon MQ event source mapping per shard's dead-letter queue ("Using Lambda with
    Amazon MQ"): PLAIN auth with the broker's secret (BASIC_AUTH), the default virtual host.
    The mapping's pollers join the broker's subnets with its security group."""
    role.add_to_policy(
        iam.PolicyStatement(actions=["mq:DescribeBroker"], resources=[broker.broker.attr_arn])
    )
    role.add_to_policy(iam.PolicyStatement(actions=list(MQ_NETWORK_ACTIONS), resources=["*"]))
    broker.allow_event_source_mappings()
    for shard in shards:
        mapping = lambda_.CfnEventSourceMapping(
            scope,
            f"DeadLetters-{shard}",
            function_name=function.function_name,
            event_source_arn=broker.broker.attr_arn,
            queues=[dead_letter_queue(shard)],
            batch_size=MQ_BATCH_SIZE,
            maximum_batching_window_in_seconds=1,
            source_access_configurations=[
                lambda_.CfnEventSourceMapping.SourceAccessConfigurationProperty(
                    type="BASIC_AUTH", uri=broker.secret.secret_arn
                ),
                lambda_.CfnEventSourceMapping.SourceAccessConfigurationProperty(
                    type="VIRTUAL_HOST", uri=BROKER_VIRTUAL_HOST
                ),
            ],
        )
        # Lambda checks the role's permissions when the mapping is created.
        mapping.node.add_dependency(role)


def consume_timers(function: lambda_.Function, queue: sqs.IQueue) -> None:
    """The timer queue's event source mapping; CDK grants the role what the mapping reads with
    (ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes, and Decrypt on
    the queue's key)."""
    function.add_event_source(
        sources.SqsEventSource(
            queue,
            batch_size=TIMER_BATCH_SIZE,
            max_batching_window=Duration.seconds(TIMER_BATCHING_WINDOW_SECONDS),
            report_batch_item_failures=True,
        )
    )
