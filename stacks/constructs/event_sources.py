"""The event source mappings the function factory wires by trigger: the journal (Kinesis), each
shard's dead-letter queue (Amazon MQ) and the SQS queue a function names (``FunctionSpec.queue``:
the dead man's switch's timers, the payouts to send, the notices to email)."""

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from exchange.messaging import dead_letter_queue
from lambdas.catalog import FunctionSpec
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
# Each queue's batch size: a payout calls the provider (with retries) inside the invocation, so a
# few at a time keep a batch well within the function's timeout; notices are quick to email. No
# batching window anywhere: each message is handled as soon as it is visible.
QUEUE_BATCH_SIZES: Final = {"cancel-after": TIMER_BATCH_SIZE, "payouts": 5, "notifications": 10}
# The smallest maximum concurrency an SQS event source mapping takes (ScalingConfig).
MIN_MAXIMUM_CONCURRENCY: Final = 2


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


def consume_queue(
    function: lambda_.Function, queue: sqs.IQueue, name: str, *, reserved: int | None
) -> None:
    """The event source mapping of the queue ``name`` (``FunctionSpec.queue``), reporting only
    the failed messages back; CDK grants the role what the mapping reads with (ReceiveMessage,
    DeleteMessage, ChangeMessageVisibility, GetQueueAttributes, and Decrypt on the queue's key).

    A mapping does not know the function's ``reserved`` concurrency: past it the function is
    throttled and each throttled message returns to the queue as one more receive, so a burst
    would dead-letter payouts and notices that never ran. The mapping's maximum concurrency
    (2 at least) equal to the reserved concurrency prevents that ("Configuring scaling behavior
    for SQS event source mappings")."""
    if reserved is not None and reserved < MIN_MAXIMUM_CONCURRENCY:
        raise ValueError(
            f"the {name} queue's function reserves {reserved}: an SQS mapping's maximum"
            f" concurrency is at least {MIN_MAXIMUM_CONCURRENCY}"
        )
    function.add_event_source(
        sources.SqsEventSource(
            queue,
            batch_size=QUEUE_BATCH_SIZES[name],
            max_batching_window=Duration.seconds(TIMER_BATCHING_WINDOW_SECONDS),
            report_batch_item_failures=True,
            max_concurrency=reserved,
        )
    )


def run_every(
    scope: Construct, spec: FunctionSpec, function: lambda_.Function, *, enabled: bool
) -> events.Rule:
    """An EventBridge rule every ``spec.every_minutes`` (``enabled`` in the primary; the DR
    region's wait for failover). The next run is the retry, so a failed run is not retried (nor
    is a run that waited past the next one)."""
    if spec.every_minutes is None:
        raise ValueError(f"{spec.name} is scheduled but has no every_minutes")
    rule = events.Rule(
        scope,
        "Schedule",
        description=f"Runs {spec.name} every {spec.every_minutes} minute(s)",
        schedule=events.Schedule.rate(Duration.minutes(spec.every_minutes)),
        enabled=enabled,
    )
    rule.add_target(targets.LambdaFunction(function, retry_attempts=0))
    function.configure_async_invoke(
        retry_attempts=0, max_event_age=Duration.minutes(spec.every_minutes)
    )
    return rule
