"""The SQS queues a catalog function consumes (``FunctionSpec.queue``): the payouts to send, the
notices to email, and the dead man's switch's timers (``stacks.constructs.timers``).

Each is encrypted with the region's data key, refuses plain HTTP, and sends a message its consumer
failed ``MAX_RECEIVE_COUNT`` times to its own dead-letter queue, which pages
(``stacks.constructs.monitoring``). Its visibility timeout is six times the consumer's function
timeout, as "Using Lambda with Amazon SQS" asks of a queue an event source mapping reads (room for
the retries of a throttled batch; Lambda refuses a mapping whose function timeout exceeds it).
"""

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.nag import acknowledge

__all__ = [
    "DEAD_LETTER_RETENTION",
    "MAX_RECEIVE_COUNT",
    "RETENTION",
    "VISIBILITY_TIMEOUT_FACTOR",
    "WorkQueue",
]

VISIBILITY_TIMEOUT_FACTOR: Final = 6
MAX_RECEIVE_COUNT: Final = 5
# A payout or a notice waits out an outage of its consumer's downstream (the provider, SES) for
# four days, SQS's default; its dead letters are kept the longest SQS allows.
RETENTION: Final = Duration.days(4)
DEAD_LETTER_RETENTION: Final = Duration.days(14)


class WorkQueue(Construct):
    """``queue`` (read by one function's event source mapping) and ``dead_letters``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        purpose: str,
        key: kms.IKey,
        consumer_timeout_seconds: int,
        retain: bool,
        retention: Duration = RETENTION,
    ) -> None:
        """``purpose`` says what the queue holds, for the dead-letter queue's acknowledgment;
        ``retention`` how long a message waits for its consumer."""
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
                "AwsSolutions-SQS3": f"This queue is itself the dead-letter queue of {purpose};"
                " an operator inspects and redrives it after a fix (docs/operations.md).",
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
            retention_period=retention,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letters
            ),
            removal_policy=removal,
        )
