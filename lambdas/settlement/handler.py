"""Journal consumer: settles trades and resizes holds in the ledger (Aurora PostgreSQL); a record
the ledger refuses is quarantined (the ``quarantine`` table) so its symbol goes on. After each
record, the changed accounts' ``balances`` subscribers get their balances. In the primary region
a record is settled only once the DR region's events table holds it (``exchange.journal.gate``;
``EXCHANGE_SETTLE_AFTER_REPLICA_REGION``)."""

from exchange.aws import aws_client
from exchange.composition import CompositionRoot
from exchange.instruments.composition import live_catalog
from exchange.journal.batch import JournalSink, kinesis_handler
from exchange.journal.cursors import DynamoCursorStore
from exchange.journal.gate import DynamoReplicaCopy, ReplicationGate
from exchange.journal.quarantine import DynamoQuarantineStore
from exchange.ledger.consumer import Settlement
from exchange.ledger.postgres import PostgresLedger
from exchange.realtime.balances import BalancesFeed, BalancesSettlement
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster
from exchange.realtime.sender import ManagementApiSender
from exchange.settings import SettlementSettings
from exchange.tables import bind_tables


def compose(settings: SettlementSettings) -> JournalSink:
    bind_tables(settings)
    ledger = PostgresLedger.from_settings(settings, live_catalog(settings))
    settlement: Settlement
    if not settings.ws_management_endpoint:  # unset: nothing is pushed
        settlement = Settlement(ledger, DynamoCursorStore(), DynamoQuarantineStore())
    else:
        sender = ManagementApiSender.from_settings(settings)
        balances = BalancesFeed(ledger.balances, Broadcaster(DynamoConnectionStore(), sender))
        settlement = BalancesSettlement(
            ledger, DynamoCursorStore(), DynamoQuarantineStore(), balances=balances
        )
    region = settings.settle_after_replica_region
    if region is None:
        return settlement
    # The events table's replica in the DR region, read there (the same table name).
    replica = aws_client("dynamodb", settings.model_copy(update={"aws_region": region}))
    copy = DynamoReplicaCopy(replica, settings.events_table)
    return ReplicationGate(settlement, copy, timeout_s=settings.settle_replica_timeout_ms / 1000)


ROOT = CompositionRoot(SettlementSettings, compose)
handler = kinesis_handler(ROOT)
