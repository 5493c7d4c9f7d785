"""The account and the payment provider's webhooks (money in and out), the payout worker and its
sweeper, the notifier, the notices' relay, the emailer and the archive's Firehose transform, in
the catalog (``lambdas.catalog``). Apart only to keep the catalog's module short."""

from typing import Final

from exchange.settings import (
    ArchiveTransformSettings,
    EmailerSettings,
    MoneyAccountSettings,
    MoneyDepositsSettings,
    NoticesRelaySettings,
    NotifierSettings,
    PayoutsSettings,
    PayoutSweeperSettings,
)
from lambdas.kinds import FunctionSpec, Need, Route, Trigger

ACCOUNT: Final = FunctionSpec(
    name="account",
    description="Account profile, balances, positions, withdrawals and their"
    " destinations, statements and notification preferences",
    trigger=Trigger.REST,
    settings=MoneyAccountSettings,
    # No idempotency table: a withdrawal's id follows from the Idempotency-Key,
    # and the ledger records each id once. Connections: a withdrawal's hold is
    # pushed on the owner's balances channel.
    tables={"instruments": "read", "rate_limits": "write", "connections": "write"},
    # The payout queue: a new withdrawal is sent to the payout worker at once.
    needs=frozenset({Need.LEDGER, Need.WS_MANAGEMENT, Need.PAYOUT_QUEUE}),
    routes=(
        Route("GET", "/v1/account"),
        Route("GET", "/v1/balances"),
        Route("GET", "/v1/positions"),
        Route("POST", "/v1/withdrawals"),
        Route("GET", "/v1/withdrawals"),
        Route("GET", "/v1/withdrawals/{withdrawal_id}"),
        Route("DELETE", "/v1/withdrawals/{withdrawal_id}"),
        Route("POST", "/v1/withdrawal-destinations"),
        Route("GET", "/v1/withdrawal-destinations"),
        Route("DELETE", "/v1/withdrawal-destinations/{destination_id}"),
        Route("GET", "/v1/transactions"),
        Route("GET", "/v1/transactions/csv"),
        Route("GET", "/v1/account/notifications"),
        Route("PUT", "/v1/account/notifications"),
    ),
    reserved_concurrency=50,
)

DEPOSITS: Final = FunctionSpec(
    name="deposits",
    description="The payment provider's webhooks: deposits, and payouts"
    " completed or failed (HMAC-signed, no JWT)",
    trigger=Trigger.REST,
    settings=MoneyDepositsSettings,
    # Connections: a credited deposit is pushed on the owner's balances channel.
    # The topic: the ledger's notices are relayed at once (the relay's schedule
    # catches what this misses).
    tables={"instruments": "read", "connections": "write"},
    needs=frozenset(
        {
            Need.LEDGER,
            Need.WEBHOOK_SECRET,
            Need.WS_MANAGEMENT,
            Need.NOTIFICATIONS_TOPIC,
        }
    ),
    routes=(
        Route("POST", "/v1/webhooks/deposits", authorized=False),
        Route("POST", "/v1/webhooks/payouts", authorized=False),
    ),
    reserved_concurrency=10,
)

PAYOUTS: Final = FunctionSpec(
    name="payouts",
    description="Payout worker (SQS): claims a withdrawal in the ledger and sends it to the"
    " payment provider with the withdrawal's id as the idempotency key",
    trigger=Trigger.SQS,
    queue="payouts",
    settings=PayoutsSettings,
    needs=frozenset({Need.LEDGER, Need.PAYOUT_PROVIDER, Need.NOTIFICATIONS_TOPIC}),
    # The provider is called with retries inside one invocation; a handful at a time is plenty.
    reserved_concurrency=5,
    timeout_seconds=60,
)

PAYOUT_SWEEPER: Final = FunctionSpec(
    name="payout_sweeper",
    description="Every 5 minutes: sends stuck payouts again (same idempotency key) and counts"
    " those past their last attempt (alarmed)",
    trigger=Trigger.SCHEDULE,
    settings=PayoutSweeperSettings,
    needs=frozenset({Need.LEDGER, Need.PAYOUT_QUEUE}),
    reserved_concurrency=1,
    timeout_seconds=120,
    every_minutes=5,
)

NOTIFIER: Final = FunctionSpec(
    name="notifier",
    description="Journal consumer: publishes each account's fills to the notifications topic",
    trigger=Trigger.KINESIS,
    settings=NotifierSettings,
    tables={"instruments": "read"},
    needs=frozenset({Need.NOTIFICATIONS_TOPIC}),
    timeout_seconds=60,
)

NOTICES_RELAY: Final = FunctionSpec(
    name="notices_relay",
    description="Every minute: publishes the ledger's outbox (deposits, withdrawals, security)"
    " to the notifications topic, each notice once",
    trigger=Trigger.SCHEDULE,
    settings=NoticesRelaySettings,
    needs=frozenset({Need.LEDGER, Need.NOTIFICATIONS_TOPIC}),
    reserved_concurrency=1,
    timeout_seconds=120,
    every_minutes=1,
)

EMAILER: Final = FunctionSpec(
    name="emailer",
    description="Notifications queue (SQS, subscribed to the topic): emails each notice once"
    " through SES, as the user's preferences say",
    trigger=Trigger.SQS,
    queue="notifications",
    settings=EmailerSettings,
    tables={"notifications": "write"},
    needs=frozenset({Need.LEDGER, Need.EMAIL, Need.USER_DIRECTORY}),
    reserved_concurrency=5,
    timeout_seconds=60,
)

ARCHIVE_TRANSFORM: Final = FunctionSpec(
    name="archive_transform",
    description="Firehose transform: journal records in, one flat JSON row per event out, with"
    " the symbol and date partition keys",
    trigger=Trigger.FIREHOSE_TRANSFORM,
    settings=ArchiveTransformSettings,
    timeout_seconds=60,
)
