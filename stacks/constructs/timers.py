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

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.constructs.work_queues import (
    DEAD_LETTER_RETENTION,
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT_FACTOR,
    WorkQueue,
)

__all__ = [
    "DEAD_LETTER_RETENTION",
    "MAX_DELAY_SECONDS",
    "MAX_RECEIVE_COUNT",
    "RETENTION",
    "VISIBILITY_TIMEOUT_FACTOR",
    "TimerQueue",
]

# The most SQS delays a message ("Amazon SQS message timers"; SendMessage DelaySeconds 0-900).
MAX_DELAY_SECONDS: Final = 900
# A timer is a deadline minutes away at most; a day covers any retry and any redrive delay.
RETENTION: Final = Duration.days(1)


class TimerQueue(WorkQueue):
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
        super().__init__(
            scope,
            construct_id,
            purpose="the dead man's switch's timers",
            key=key,
            consumer_timeout_seconds=consumer_timeout_seconds,
            retain=retain,
            retention=RETENTION,
        )
