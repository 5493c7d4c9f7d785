"""The instruments the ledger settles, each checked against the asset scales once.

The ledger refuses an instrument whose amounts it could not hold exactly (``check_instrument``).
The catalog it is given may learn symbols after the ledger was built (the live catalog of
``exchange.instruments`` serves symbols operators list at run time), so the instruments known at
construction are checked then, and a symbol first seen later at its first use. A listing change
cannot make a checked symbol unfit: its base, quote, tick and lot are immutable.
"""

from threading import Lock

from exchange.domain.instruments import Instrument, InstrumentCatalog
from exchange.ledger.money import AssetScales, check_instrument


class LedgerInstruments:
    def __init__(self, catalog: InstrumentCatalog, scales: AssetScales) -> None:
        self._catalog = catalog
        self._scales = scales
        self._checked: set[str] = set()
        self._lock = Lock()
        for instrument in catalog:
            self._check(instrument)

    def get(self, symbol: str) -> Instrument:
        """The catalog's instrument; raises UnknownInstrument, or LedgerError for one the ledger
        cannot hold exactly (e.g. an asset with no configured scale)."""
        instrument = self._catalog.get(symbol)
        if symbol not in self._checked:
            self._check(instrument)
        return instrument

    def original(self, symbol: str) -> Instrument:
        """The instrument as first listed (``InstrumentCatalog.original``): the fees in force
        before the journal records any listing of the symbol."""
        self.get(symbol)
        return self._catalog.original(symbol)

    def _check(self, instrument: Instrument) -> None:
        check_instrument(instrument, self._scales)
        with self._lock:
            self._checked.add(instrument.symbol)
