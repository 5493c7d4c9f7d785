"""The instruments store: every listed instrument, versioned, and each symbol's trading status.

- instruments: pk ``symbol``, sk ``record``:
  - ``record = "v#<version, 10 digits>"``: one item per version (1, 2, ...), never changed once
    written: ``definition`` (the ``Instrument``'s JSON, exactly what ``ListInstrument`` carries),
    ``shard`` (the engine shard that trades it), who listed or changed it and why, and when.
  - ``record = "current"``: the version in force (a copy of the newest version's fields), written
    in the same transaction as the version it copies, conditioned on the previous version, so
    two operators cannot both write version N. Plus the trading status the engine last
    journaled (``status``, ``status_seq``; the recorder writes it from ``TradingStatusChanged``,
    only forwards in ``seq``), and ``listed_seq``: the ``seq`` of the engine's
    ``InstrumentListed`` for ``version`` (None until the recorder saw it).

A global table: the DR region reads the same listings. The static instruments file only seeds
it (version 1 of each symbol it lacks); see ``exchange.instruments``.
"""

from typing import Final

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from exchange.tables.base import _Meta, _Table

CURRENT: Final = "current"


def version_record(version: int) -> str:
    """The sort key of ``version``'s item."""
    return f"v#{version:010d}"


class InstrumentRecord(_Table):
    logical_name = "instruments"

    class Meta(_Meta):
        pass

    symbol = UnicodeAttribute(hash_key=True)
    record = UnicodeAttribute(range_key=True)
    version = NumberAttribute()
    definition = UnicodeAttribute()  # the Instrument's JSON
    shard = UnicodeAttribute()
    actor = UnicodeAttribute()  # an operator's username, or "seed" for the instruments file
    reason = UnicodeAttribute(default="")
    created_ns = NumberAttribute()
    # "current" only: the status the engine last journaled and its seq; the listing's seq.
    status = UnicodeAttribute(null=True)
    status_seq = NumberAttribute(null=True)
    listed_seq = NumberAttribute(null=True)
