"""SQS event source mapping on the dead man's switch's timer queue: fires each due switch
(``exchange.orders.cancel_after``).

Each message body is a ``Timer`` (``{"v": 1, "account_id": ..., "deadline_ms": ...}``), sent by
the orders function with ``DelaySeconds`` = the switch's timeout. A timer whose switch was
renewed, disarmed or fired already does nothing. A message that fails (the broker is down, the
body does not decode, the timer came well before its deadline) is reported with Powertools'
partial batch response, so SQS delivers only it again, after the queue's visibility timeout, and
to the dead-letter queue after its maxReceiveCount. A batch whose every message failed is
reported the same way rather than raised: with ReportBatchItemFailures, Lambda does not scale
down its polling for reported failures, as it does for a failed invocation ("Handling errors for
an SQS event source in Lambda"), and a timer must not wait behind a backoff.

The work is one read of the switch, the account's open orders from one index, one cancel per
order and one conditional delete: no ledger, so a timer fires well within a second.
"""

import functools
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.domain.errors import ExchangeError
from exchange.observability import logger, metrics, tracer
from exchange.orders.cancel_after import Outcome, SwitchTrigger, Timer

if TYPE_CHECKING:
    from exchange.orders.cancel_after_aws import SoonRetry
from exchange.orders.publisher import CommandSink
from exchange.settings import CancelAfterSettings


class TimerEarly(ExchangeError):
    """A timer delivered well before its deadline (it is delivered again later)."""

    code = "timer_early"


def compose(settings: CancelAfterSettings, *, sink: CommandSink | None = None) -> SwitchTrigger:
    """The function's object graph; local mode passes its in-process broker as ``sink``."""
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415
    from exchange.orders.cancel_after_aws import DynamoSwitchStore  # noqa: PLC0415
    from exchange.orders.dynamo import DynamoOrderLookup  # noqa: PLC0415
    from exchange.orders.mass_cancel import MassCancel  # noqa: PLC0415
    from exchange.orders.publisher import RabbitCommandSink  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    mass_cancel = MassCancel(
        lookup=DynamoOrderLookup(),
        sink=sink
        or RabbitCommandSink.from_settings(
            settings,
            connection_name="cancel-after",
            # Cancels of orders in symbols listed at run time: only the live catalog knows them.
            shard_fallback=live_catalog(settings).shard_for,
        ),
        limit=settings.max_open_orders,
    )
    return SwitchTrigger(switches=DynamoSwitchStore(), mass_cancel=mass_cancel)


ROOT = CompositionRoot(CancelAfterSettings, compose)


def fire(trigger: SwitchTrigger, record: SQSRecord) -> Outcome:
    timer = Timer.decode(record.body)
    outcome = trigger.fire(timer)
    metrics.add_metric(name=f"CancelAfter{outcome.value.title()}", unit=MetricUnit.Count, value=1)
    if outcome is Outcome.EARLY:
        raise TimerEarly(f"timer for {timer.deadline_ms} came early; it will come again")
    if outcome is Outcome.FIRED:
        logger.info("dead man's switch fired", extra={"account_id": timer.account_id})
    return outcome


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    trigger: SwitchTrigger | None = None,
    retry: "SoonRetry | None" = None,
) -> PartialItemFailureResponse:
    due = trigger or ROOT()
    response = process_partial_response(
        event=event,
        record_handler=lambda record: fire(due, record),
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )
    failed = {str(item["itemIdentifier"]) for item in response.get("batchItemFailures", [])}
    if failed:
        # Back in seconds, not after the queue's visibility timeout (minutes).
        (retry or _retry()).retry(list(event.get("Records", [])), failed)
    return response


@functools.cache
def _retry() -> "SoonRetry":
    """One per execution environment: its client and the queue's URL are kept."""
    from exchange.orders.cancel_after_aws import SoonRetry as Adapter  # noqa: PLC0415

    return Adapter.from_settings(ROOT.settings())
