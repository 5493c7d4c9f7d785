"""Scheduled every minute (EventBridge): publishes the ledger's outbox (deposits, withdrawals,
destinations) to the notifications topic (``exchange.notifications.relay``). The deposits and
payouts functions relay right after their commits; this catches what they missed."""

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.composition import CompositionRoot
from exchange.ledger.notices_port import NoticesPort
from exchange.notifications.publisher import NoticePublisher
from exchange.notifications.relay import relay_notices
from exchange.observability import logger, metrics, tracer
from exchange.settings import NoticesRelaySettings


@dataclass(frozen=True, slots=True)
class Relay:
    ledger: NoticesPort
    publisher: NoticePublisher
    limit: int

    def run(self) -> int:
        return relay_notices(self.ledger, self.publisher, limit=self.limit)


def compose(
    settings: NoticesRelaySettings,
    *,
    ledger: NoticesPort | None = None,
    publisher: NoticePublisher | None = None,
) -> Relay:
    """The function's object graph; tests and local mode may pass the ledger or the publisher."""
    from exchange.domain.instruments import InstrumentCatalog  # noqa: PLC0415 - at first use
    from exchange.ledger.postgres import PostgresLedger  # noqa: PLC0415
    from exchange.notifications.publisher import SnsNoticePublisher  # noqa: PLC0415

    return Relay(
        # The outbox needs no instruments.
        ledger=ledger or PostgresLedger.from_settings(settings, InstrumentCatalog([])),
        publisher=publisher or SnsNoticePublisher.from_settings(settings),
        limit=settings.notices_batch_limit,
    )


ROOT = CompositionRoot(NoticesRelaySettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: LambdaContext, relay: Relay | None = None
) -> dict[str, int]:
    # The scheduled event only says when the rule fired.
    return {"published": (relay or ROOT()).run()}
