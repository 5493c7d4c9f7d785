"""A seq is never reused silently: the failover epochs of a symbol's journal, as consumers saw it.

Every journal record carries the failover epoch of the engine that wrote it
(``JournalRecord.epoch``: 0 for the primary's first run, one more at every promotion or failback).
After a failover the DR engine may emit seqs that a consumer (whose cursor is a global table)
already applied from the primary, with other content: the primary's last events had not
replicated. Such a record looks like a duplicate, and skipping it would drop the DR engine's
events without a trace.

So a consumer remembers, per symbol, the epoch that applied each seq: an ``EpochHistory`` of
``(first_seq, epoch)`` transitions (none: epoch 0 from seq 1). A record that repeats seqs
already applied must carry the epoch that applied them; otherwise ``SeqReused`` is raised, the
record fails (metric ``JournalSeqReused``, an error log) and its epoch is refused for the
symbol from then on (``EpochRefused``, itself a ``SeqReused``), so the symbol stops until an
operator reconciles it. The ledger checks content rather than epochs: a ``(symbol, seq)`` it
settled with other content also raises ``SeqReused``.

A false alarm is possible: a DR engine that emits, under its new epoch, exactly the events the
primary had emitted at those seqs is refused too. A consumer cannot tell from its cursor; it
stops, and an operator looks.
"""

from collections.abc import Iterable, Sequence
from typing import Final

from exchange.domain.errors import ExchangeError

EpochHistory = tuple[tuple[int, int], ...]  # (first_seq, epoch), first_seq ascending

LEGACY_EPOCH: Final = 0  # the epoch of every seq a history does not name


class SeqReused(ExchangeError):
    """A consumer met seqs it had applied, with other content: under another epoch
    (``applied_epoch``, ``record_epoch``), or (the ledger, which compares content) different
    events; an epoch it cannot tell is None. Never skipped: the record fails."""

    code = "seq_reused"

    def __init__(
        self,
        consumer: str,
        symbol: str,
        seqs: Sequence[int],
        applied_epoch: int | None,
        record_epoch: int | None,
        *,
        detail: str = "",
    ) -> None:
        run = len(seqs) > 1 and seqs[-1] - seqs[0] == len(seqs) - 1
        shown = f"{seqs[0]}..{seqs[-1]}" if run else ", ".join(map(str, seqs))
        super().__init__(
            f"{consumer}: {symbol} seq {shown} applied under epoch {_shown(applied_epoch)}, "
            f"met again under epoch {_shown(record_epoch)}" + (f": {detail}" if detail else "")
        )
        self.consumer = consumer
        self.symbol = symbol
        self.seqs = tuple(seqs)
        self.applied_epoch = applied_epoch
        self.record_epoch = record_epoch


class EpochRefused(SeqReused):
    """A record of an epoch that was caught reusing this symbol's seqs: refused, whatever its
    seqs, until an operator clears the refusal (the symbol stays stopped)."""

    code = "epoch_refused"

    def __init__(self, consumer: str, symbol: str, seqs: Sequence[int], record_epoch: int) -> None:
        super().__init__(
            consumer, symbol, seqs, None, record_epoch, detail="the epoch reused seqs, refused"
        )


def _shown(epoch: int | None) -> str:
    return "?" if epoch is None else str(epoch)


def epoch_at(history: EpochHistory, seq: int) -> int:
    """The epoch that applied ``seq``: the last transition at or before it."""
    epoch = LEGACY_EPOCH
    for first_seq, transition in history:
        if first_seq > seq:
            break
        epoch = transition
    return epoch


def current_epoch(history: EpochHistory) -> int:
    return history[-1][1] if history else LEGACY_EPOCH


def after_applying(history: EpochHistory, first_seq: int, epoch: int) -> EpochHistory | None:
    """The history once seqs from ``first_seq`` on are applied under ``epoch``; None when it does
    not change (the same epoch goes on, by far the common case)."""
    if epoch == current_epoch(history):
        return None
    return (*[(s, e) for s, e in history if s < first_seq], (first_seq, epoch))


def mismatched(history: EpochHistory, first_seq: int, through: int, epoch: int) -> list[int]:
    """The seqs ``first_seq..through`` that were applied under an epoch other than ``epoch``."""
    return [seq for seq in range(first_seq, through + 1) if epoch_at(history, seq) != epoch]


def history_of(pairs: Iterable[Sequence[object]] | None) -> EpochHistory:
    """A stored ``[[first_seq, epoch], ...]`` (numbers as the store gives them), sorted."""
    if not pairs:
        return ()
    return tuple(sorted((int(str(pair[0])), int(str(pair[1]))) for pair in pairs))
