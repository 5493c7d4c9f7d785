"""Journal consumer: settles trades and resizes holds in the ledger (Aurora PostgreSQL); a record
the ledger refuses is quarantined (the ``quarantine`` table) so its symbol goes on. After each
record, the changed accounts' ``balances`` subscribers get their balances."""

from exchange.composition import CompositionRoot
from exchange.instruments.composition import live_catalog
from exchange.journal.batch import kinesis_handler
from exchange.journal.cursors import DynamoCursorStore
from exchange.journal.quarantine import DynamoQuarantineStore
from exchange.ledger.consumer import Settlement
from exchange.ledger.postgres import PostgresLedger
from exchange.realtime.balances import BalancesFeed, BalancesSettlement
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster
from exchange.realtime.sender import ManagementApiSender
from exchange.settings import SettlementSettings
from exchange.tables import bind_tables


def compose(settings: SettlementSettings) -> Settlement:
    bind_tables(settings)
    ledger = PostgresLedger.from_settings(settings, live_catalog(settings))
    if not settings.ws_management_endpoint:  # unset: nothing is pushed
        return Settlement(ledger, DynamoCursorStore(), DynamoQuarantineStore())
    sender = ManagementApiSender.from_settings(settings)
    balances = BalancesFeed(ledger.balances, Broadcaster(DynamoConnectionStore(), sender))
    return BalancesSettlement(
        ledger, DynamoCursorStore(), DynamoQuarantineStore(), balances=balances
    )


ROOT = CompositionRoot(SettlementSettings, compose)
handler = kinesis_handler(ROOT)
