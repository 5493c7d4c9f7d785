"""Every listed symbol with its version and trading status, as the public reads show them.

A process's catalog is the live one (``exchange.instruments.LiveCatalog``: the instruments
store's listings, refreshed every few seconds, with the status the engine last journaled); a
plain ``InstrumentCatalog`` (a test's, a tool's) reads as version 0 of each of its instruments,
at the status its file gives.

>>> from exchange.domain import InstrumentCatalog
>>> [(item.symbol, item.version, item.status.value) for item in listings(InstrumentCatalog.demo())]
[('BTC-USD', 0, 'TRADING'), ('ETH-USD', 0, 'TRADING'), ('SOL-USD', 0, 'TRADING')]
"""

from exchange.domain.instruments import InstrumentCatalog
from exchange.instruments.model import STATIC_ACTOR, Listing


def listings(catalog: InstrumentCatalog) -> list[Listing]:
    """The catalog's listings, by symbol."""
    # At first use: the store's modules load with the composition that builds the live catalog,
    # not when a handler module is imported (cold starts).
    from exchange.instruments.live import LiveCatalog  # noqa: PLC0415

    if isinstance(catalog, LiveCatalog):
        found = catalog.listings()
    else:
        found = [
            Listing(
                instrument=instrument,
                version=0,
                shard="",
                status=instrument.status,
                actor=STATIC_ACTOR,
            )
            for instrument in catalog
        ]
    return sorted(found, key=lambda listing: listing.symbol)
