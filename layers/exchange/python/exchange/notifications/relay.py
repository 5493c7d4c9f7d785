"""The ledger's outbox to the notifications topic.

The ledger writes a notice in the same transaction as the change it tells of (a deposit
credited, a withdrawal requested, completed, failed or cancelled, a destination added), so the
notice exists exactly when the change does. ``relay_notices`` publishes the oldest unpublished
ones in order and then marks those that were published. It runs every minute (the notices_relay
function) and, best effort, right after the deposits and payouts functions commit, so most notices
go out within a second.

A publish that fails stops the run there: what was published is marked, the rest waits for the
next run, and nothing is raised (the caller's own work has already committed). A crash between
publishing and marking publishes those notices again next time; the emailer sends each
``notice_id`` once, so a duplicate costs one SNS message and nothing more.
"""

import psycopg

from exchange.domain.errors import ExchangeError
from exchange.journal.batch import count
from exchange.ledger.notices_port import NoticesPort
from exchange.notifications.publisher import NoticeNotPublished, NoticePublisher
from exchange.observability import logger

DEFAULT_RELAY_LIMIT = 500
# Relayed right after one invocation's commit: a batch of ten payouts, or one webhook, writes a few.
AFTER_COMMIT_LIMIT = 100


def relay_notices(
    ledger: NoticesPort, publisher: NoticePublisher, *, limit: int = DEFAULT_RELAY_LIMIT
) -> int:
    """Publish up to ``limit`` unpublished notices, oldest first, and mark them; returns how many
    were published. The ledger's own errors (the database is down) propagate."""
    published: list[str] = []
    pending = ledger.unpublished_notices(limit=limit)
    try:
        for notice in pending:
            publisher.publish(notice)
            published.append(notice.notice_id)
    except NoticeNotPublished as exc:
        count("NoticesNotPublished")
        logger.warning(
            "notice not published; the rest waits for the next run",
            extra={"error": str(exc), "published": len(published), "pending": len(pending)},
        )
    finally:
        # Marked even when a publish failed: those before it are out and need not go again.
        if published:
            ledger.mark_published(published)
    count("NoticesRelayed", len(published))
    return len(published)


def relay_best_effort(notices: NoticesPort | None, publisher: NoticePublisher | None) -> int:
    """Relay up to ``AFTER_COMMIT_LIMIT`` notices right after a commit, by the functions that
    write them outside the API (the payout worker, the provider's webhooks); 0 when not
    configured or when the ledger failed. Whatever this misses (the topic throttled, the database
    gone between the commit and the relay) the notices_relay schedule publishes within a minute:
    the notices are in the outbox already."""
    if notices is None or publisher is None:
        return 0
    try:
        return relay_notices(notices, publisher, limit=AFTER_COMMIT_LIMIT)
    except (ExchangeError, psycopg.Error) as exc:  # the caller's work is committed already
        logger.warning("notices not relayed; the schedule will", extra={"error": str(exc)})
        return 0
