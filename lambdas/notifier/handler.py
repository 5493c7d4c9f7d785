"""Journal consumer: each account's fills to the notifications topic, one notice per account per
trade (``exchange.notifications.notifier``)."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.notifications.notifier import FillNotifier, notify_batch
from exchange.notifications.publisher import NoticePublisher
from exchange.observability import logger, metrics, tracer
from exchange.settings import NotifierSettings


def compose(
    settings: NotifierSettings, *, publisher: NoticePublisher | None = None
) -> FillNotifier:
    """The function's object graph; tests and local mode may pass the publisher."""
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415 - at first use
    from exchange.notifications.publisher import SnsNoticePublisher  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    return FillNotifier(
        publisher or SnsNoticePublisher.from_settings(settings), catalog=live_catalog(settings)
    )


ROOT = CompositionRoot(NotifierSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, notifier: FillNotifier | None = None
) -> PartialItemFailureResponse:
    return notify_batch(event, notifier or ROOT(), context=context)
