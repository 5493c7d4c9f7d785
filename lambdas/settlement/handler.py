"""Journal consumer: settles trades and resizes holds in the ledger (Aurora PostgreSQL); a record
the ledger refuses is quarantined (the ``quarantine`` table) so its symbol goes on."""

from exchange.composition import CompositionRoot
from exchange.journal.batch import kinesis_handler
from exchange.journal.cursors import DynamoCursorStore
from exchange.journal.quarantine import DynamoQuarantineStore
from exchange.ledger.consumer import Settlement
from exchange.ledger.postgres import PostgresLedger
from exchange.settings import SettlementSettings
from exchange.tables import bind_tables


def compose(settings: SettlementSettings) -> Settlement:
    bind_tables(settings)
    return Settlement(
        PostgresLedger.from_settings(settings, settings.catalog()),
        DynamoCursorStore(),
        DynamoQuarantineStore(),
    )


ROOT = CompositionRoot(SettlementSettings, compose)
handler = kinesis_handler(ROOT)
