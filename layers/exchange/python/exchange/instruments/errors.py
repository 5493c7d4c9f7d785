"""Typed errors of the instruments store.

``VersionConflict`` and ``InstrumentStoreUnavailable`` are the store's; ``ImmutableField`` is a
bad change (an ``InvalidInstrument``, like any other definition that breaks the rules). Their
codes map to HTTP statuses in ``exchange.http.problems`` (409, 422, 503).
"""

from exchange.domain.errors import ExchangeError, InvalidInstrument


class InstrumentStoreError(ExchangeError):
    code = "instrument_store_error"


class VersionConflict(InstrumentStoreError):
    """The version asked for is not the next one: someone else wrote it first (or the caller
    read an old listing). Nothing was written; read the listing again and retry on top of it."""

    code = "version_conflict"


class InstrumentStoreUnavailable(InstrumentStoreError):
    """The store could not be read or written (an outage, throttling, a corrupt item)."""

    code = "store_unavailable"


class ImmutableField(InvalidInstrument):
    """A change to a field that is fixed once listed: ``field`` names it."""

    code = "immutable_field"

    def __init__(self, symbol: str, field: str, was: object, now: object) -> None:
        super().__init__(f"{symbol}: {field} cannot change once listed (was {was}, now {now})")
        self.field = field
