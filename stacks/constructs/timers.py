"""The dead man's switch's timer queue (``POST /v1/orders/cancel-after``).

Each arm or renewal is an SQS message delayed by the caller's timeout (``DelaySeconds``, at most
900 s: "Amazon SQS message timers"); the ``Trigger.SQS`` function reads them when they fall due and
cancels the account's open orders if its deadline passed unrenewed. The queue is encrypted with the
region's data key and refuses plain HTTP; a message the function fails ``MAX_RECEIVE_COUNT`` times
goes to the dead-letter queue, which pages (``stacks.constructs.monitoring``).

The visibility timeout is six times the consumer's function timeout, as "Using Lambda with Amazon
SQS" asks of a queue an event source mapping reads (room for retries of a throttled batch); Lambda
refuses a mapping whose function timeout exceeds it.
"""

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.nag import acknowledge

# The most SQS delays a message ("Amazon SQS message timers"; SendMessage DelaySeconds 0-900).
MAX_DELAY_SECONDS: Final = 900
VISIBILITY_TIMEOUT_FACTOR: Final = 6
MAX_RECEIVE_COUNT: Final = 5
# A timer is a deadline minutes away at most; a day covers any retry and any redrive delay.
RETENTION: Final = Duration.days(1)
DEAD_LETTER_RETENTION: Final = Duration.days(14)


class TimerQueue(Construct):
    """``queue`` (the timers) and ``dead_letters`` (timers the function could not handle)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        consumer_timeout_seconds: int,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            removal_policy=removal,
        )
        acknowledge(
            self.dead_letters,
            {
                "AwsSolutions-SQS3": "This queue is itself the dead-letter queue of the dead man's"
                " switch's timers; an operator inspects and redrives it after a fix.",
            },
        )
        self.visibility_timeout = Duration.seconds(
            VISIBILITY_TIMEOUT_FACTOR * consumer_timeout_seconds
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=self.visibility_timeout,
            retention_period=RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letters
            ),
            removal_policy=removal,
        )
