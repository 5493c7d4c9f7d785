"""SQS event source mapping on the payout queue: each message ``{"withdrawal_id": ...}`` is claimed
in the ledger and sent to the payment provider (``exchange.payouts.worker``).

A message whose payout could not be sent (the provider unavailable after the adapter's retries,
the ledger down) is reported with Powertools' partial batch response, so SQS delivers only it
again, after the queue's visibility timeout (a backoff for a provider that is down, unlike the
dead man's switch's quick retry), and moves it to the dead-letter queue after maxReceiveCount; the
withdrawal stays SENDING, where the sweeper finds it. A body that does not decode fails the same
way and ends in the dead-letter queue. With ReportBatchItemFailures an entirely failed batch is
reported rather than raised ("Handling errors for an SQS event source in Lambda").

After the batch, the ledger's outbox (a withdrawal failed or finished here) is relayed to the
notifications topic, best effort: the notices_relay schedule publishes whatever this misses.
"""

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.ledger.notices_port import NoticesPort
from exchange.notifications.publisher import NoticePublisher
from exchange.notifications.relay import relay_best_effort
from exchange.observability import logger, metrics, tracer
from exchange.payouts.queue import decode_message
from exchange.payouts.worker import Outcome, PayoutWorker
from exchange.settings import PayoutsSettings


@dataclass(frozen=True, slots=True)
class Payouts:
    worker: PayoutWorker
    notices: NoticesPort | None = None  # None: nothing relayed (tests; no topic configured)
    publisher: NoticePublisher | None = None


def compose(settings: PayoutsSettings) -> Payouts:
    """The function's object graph: the ledger as the function's own role, the provider over
    HTTPS with the API secret from Secrets Manager, the topic's publisher."""
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415 - at first use
    from exchange.notifications.publisher import notice_publisher  # noqa: PLC0415
    from exchange.payouts.provider import HttpPayoutProvider  # noqa: PLC0415
    from exchange.payouts.worker import count_retry  # noqa: PLC0415

    ledger = PostgresLedger.from_settings(settings, settings.catalog())
    provider = HttpPayoutProvider.from_settings(settings, on_retry=count_retry)
    return Payouts(PayoutWorker(ledger, provider), ledger, notice_publisher(settings))


ROOT = CompositionRoot(PayoutsSettings, compose)


def pay(worker: PayoutWorker, record: SQSRecord) -> Outcome:
    return worker.pay(decode_message(record.body))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, payouts: Payouts | None = None
) -> PartialItemFailureResponse:
    function = payouts or ROOT()
    response = process_partial_response(
        event=event,
        record_handler=lambda record: pay(function.worker, record),
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )
    relay_best_effort(function.notices, function.publisher)
    return response
