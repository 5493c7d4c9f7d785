"""The ledger's notices relayed right after a commit, best effort, by the functions that write
them outside the API (the payout worker, the provider's webhooks). Whatever this misses (the
topic throttled, the database gone between the commit and the relay) the notices_relay schedule
publishes within a minute: the notices are in the outbox already."""

import psycopg

from exchange.domain.errors import ExchangeError
from exchange.ledger.notices_port import NoticesPort
from exchange.notifications.publisher import NoticePublisher
from exchange.notifications.relay import relay_notices
from exchange.observability import logger

# Notices relayed after one invocation: a batch of ten payouts, or one webhook, writes a few.
RELAY_LIMIT = 100


def relay_best_effort(notices: NoticesPort | None, publisher: NoticePublisher | None) -> int:
    """Relay up to RELAY_LIMIT notices; 0 when not configured or when the ledger failed."""
    if notices is None or publisher is None:
        return 0
    try:
        return relay_notices(notices, publisher, limit=RELAY_LIMIT)
    except (ExchangeError, psycopg.Error) as exc:  # the caller's work is committed already
        logger.warning("notices not relayed; the schedule will", extra={"error": str(exc)})
        return 0
