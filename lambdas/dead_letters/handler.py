"""Amazon MQ event source mapping on each shard's dead-letter queue: settles the order of each
dead-lettered command (``exchange.orders.dead_letters``).

A batch that raises comes again whole; each letter's steps are idempotent, so the ones already
settled change nothing the second time.
"""

import base64
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools.utilities.data_classes.rabbit_mq_event import RabbitMQEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.orders.dead_letters import DeadLetter, DeadLetterConsumer
from exchange.orders.publisher import CommandSink
from exchange.settings import DeadLettersSettings


def compose(
    settings: DeadLettersSettings, *, sink: CommandSink | None = None
) -> DeadLetterConsumer:
    """The function's object graph; local mode passes its in-process broker as ``sink``."""
    from exchange.instruments.composition import live_catalog  # noqa: PLC0415
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415
    from exchange.orders.publisher import RabbitCommandSink  # noqa: PLC0415
    from exchange.orders.reconcile import DynamoPendingOrders  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)
    catalog = live_catalog(settings)
    return DeadLetterConsumer(
        orders=DynamoPendingOrders(),
        ledger=PostgresLedger.from_settings(settings, catalog),
        sink=sink
        or RabbitCommandSink.from_settings(
            settings, connection_name="dead-letters", shard_fallback=catalog.shard_for
        ),
    )


ROOT = CompositionRoot(DeadLettersSettings, compose)


def dead_letters(event: dict[str, Any]) -> Iterator[DeadLetter]:
    """Each message of the event, its body decoded from base64 (the body is binary)."""
    for queue, messages in RabbitMQEvent(event).rmq_messages_by_queue.items():
        for message in messages:
            headers = message.basic_properties.get("headers") or {}
            yield DeadLetter(
                body=base64.b64decode(message.data),
                queue=queue.partition("::")[0],  # "<queue>::<virtual host>"
                reason=header_text(headers.get("x-first-death-reason")),
            )


def header_text(value: object) -> str | None:
    """A header as Lambda passes it: strings arrive as ``{"bytes": [...]}``."""
    if isinstance(value, dict) and isinstance(value.get("bytes"), list):
        return bytes(value["bytes"]).decode(errors="replace")
    return None if value is None else str(value)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, consumer: DeadLetterConsumer | None = None
) -> dict[str, int]:
    settle = consumer or ROOT()
    return dict(Counter(settle.handle(letter).value for letter in dead_letters(event)))
