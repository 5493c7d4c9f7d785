"""``live_catalog(settings)``: the instrument catalog every composition root builds.

The store is read when the function's environment names the instruments table
(``EXCHANGE_INSTRUMENTS_TABLE``): the catalog (``lambdas.catalog``) gives that variable, and
the IAM grant to read the table, to exactly the functions with ``"instruments"`` among their
tables. Without it (a test's settings, a tool) the catalog is the static file's alone, and no
AWS call is made.
"""

from collections.abc import Mapping, Sequence

from exchange.instruments.live import LiveCatalog
from exchange.instruments.store import InstrumentStore
from exchange.messaging import ShardMap
from exchange.settings import AwsSettings, InstrumentSettings


def live_catalog(settings: InstrumentSettings) -> LiveCatalog:
    """The file's instruments (``instruments_file``, else the layer's) overlaid by the store's
    listings, with the static shard map (``shards`` where the settings have one)."""
    store = instrument_store(settings)
    return LiveCatalog(store, settings.catalog(), shards=static_shards(settings))


def instrument_store(settings: object) -> InstrumentStore | None:
    """The DynamoDB store when ``settings`` name the instruments table, else None."""
    # Only TableSettings has the field, and it is set only when the environment names it.
    named = "instruments_table" in getattr(settings, "model_fields_set", ())
    if not named or not isinstance(settings, AwsSettings):
        return None
    from exchange.instruments.store_dynamo import DynamoInstrumentStore  # noqa: PLC0415
    from exchange.tables import bind_tables  # noqa: PLC0415

    bind_tables(settings)  # idempotent; not every function binds its tables before this
    return DynamoInstrumentStore()


def static_shards(settings: object) -> ShardMap:
    """The settings' ``shards`` (``EXCHANGE_SHARDS``) where they have the field, else the map
    shipped in the layer."""
    shards: Mapping[str, Sequence[str]] | None = getattr(settings, "shards", None)
    return ShardMap.of(shards)
