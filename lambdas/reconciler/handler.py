"""Scheduled every minute (EventBridge): cancels the orders the engine left PENDING_NEW past the
timeout, so its answer settles them (``exchange.orders.reconcile``)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.orders.publisher import CommandSink
from exchange.orders.reconcile import Reconciler
from exchange.settings import ReconcilerSettings


def compose(settings: ReconcilerSettings, *, sink: CommandSink | None = None) -> Reconciler:
    """The function's object graph; local mode passes its in-process broker as ``sink``."""
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415
    from exchange.orders.publisher import RabbitCommandSink  # noqa: PLC0415
    from exchange.orders.reconcile import DynamoPendingOrders  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    catalog = live_catalog(settings)
    return Reconciler(
        orders=DynamoPendingOrders(),
        sink=sink
        or RabbitCommandSink.from_settings(
            settings, connection_name="reconciler", shard_fallback=catalog.shard_for
        ),
        symbols=lambda: catalog.symbols,
        timeout_s=settings.reconcile_after_seconds,
        limit=settings.reconcile_batch_limit,
    )


ROOT = CompositionRoot(ReconcilerSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, reconciler: Reconciler | None = None
) -> dict[str, int]:
    # The scheduled event only says when the rule fired; the reconciler reads its own clock.
    return (reconciler or ROOT()).run().as_dict()
