"""The consumers' cursors: how far each has applied each symbol's journal, and under which
failover epochs (``exchange.journal.cursors``, ``exchange.journal.epochs``)."""

from pynamodb.attributes import ListAttribute, NumberAttribute, NumberSetAttribute, UnicodeAttribute

from exchange.tables.base import _Meta, _Table


class CursorRecord(_Table):
    """How far one consumer (fanout, candles, settlement) has applied one symbol's events."""

    logical_name = "cursors"

    class Meta(_Meta):
        pass

    consumer = UnicodeAttribute(hash_key=True)
    symbol = UnicodeAttribute(range_key=True)
    last_seq = NumberAttribute()
    updated_ns = NumberAttribute()
    epochs = ListAttribute(null=True)  # type: ignore[var-annotated]  # [[first_seq, epoch], ...]
    refused_epochs = NumberSetAttribute(null=True)  # epochs caught reusing seqs (journal.epochs)
