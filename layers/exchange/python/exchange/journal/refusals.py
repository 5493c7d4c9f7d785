"""The epochs consumers refused for reusing seqs (``exchange.journal.epochs``), and clearing one
once the symbol is reconciled: the operator's half of a ``JournalSeqReused`` alarm.

    python -m exchange.journal.refusals list [--consumer C] [--symbol S]
    python -m exchange.journal.refusals clear --consumer C --symbol S --epoch E --reason "..."

``list`` prints one JSON line per cursor with a refusal: consumer, symbol, the seq it stands at,
its epoch history and the refused epochs. ``clear`` removes one epoch from one cursor's refusals
(the records of that epoch then apply again, from the cursor on; a record whose seqs the cursor
applied under another epoch is refused again) and prints what it did, with the reason, as one
JSON line for the audit trail of the change; it exits 1 when the cursor did not refuse that epoch.

It runs with any consumer's table settings (``ConsumerSettings`` from the environment: the
cursors table and its region).
"""

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from exchange.settings import ConsumerSettings, load_settings
from exchange.tables import CursorRecord, bind_tables


def refused(consumer: str | None = None, symbol: str | None = None) -> Iterator[dict[str, object]]:
    condition = CursorRecord.refused_epochs.exists()
    if consumer is not None:
        condition &= CursorRecord.consumer == consumer
    if symbol is not None:
        condition &= CursorRecord.symbol == symbol
    for row in CursorRecord.scan(condition, consistent_read=True):
        yield {
            "consumer": row.consumer,
            "symbol": row.symbol,
            "last_seq": int(row.last_seq),
            "epochs": [[int(f), int(e)] for f, e in row.epochs or []],
            "refused_epochs": sorted(int(e) for e in row.refused_epochs or ()),
        }


def clear(consumer: str, symbol: str, epoch: int) -> bool:
    """Remove ``epoch`` from the cursor's refusals; False when it did not refuse it."""
    try:
        row = CursorRecord.get(consumer, symbol, consistent_read=True)
    except CursorRecord.DoesNotExist:
        return False
    if epoch not in {int(e) for e in row.refused_epochs or ()}:
        return False
    row.update(actions=[CursorRecord.refused_epochs.delete({epoch})])
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exchange.journal.refusals")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="cursors with refused epochs")
    listing.add_argument("--consumer")
    listing.add_argument("--symbol")
    clearing = actions.add_parser("clear", help="clear one refused epoch of one cursor")
    clearing.add_argument("--consumer", required=True)
    clearing.add_argument("--symbol", required=True)
    clearing.add_argument("--epoch", type=int, required=True)
    clearing.add_argument("--reason", required=True, help="why: kept in the printed line")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO = sys.stdout, bind: bool = True) -> int:
    """The command; tests bind the tables themselves (``bind=False``)."""
    args = _parser().parse_args(argv)
    if bind:
        bind_tables(load_settings(ConsumerSettings))
    if args.action == "list":
        for line in refused(args.consumer, args.symbol):
            out.write(json.dumps(line) + "\n")
        return 0
    done = clear(args.consumer, args.symbol, args.epoch)
    line = {"consumer": args.consumer, "symbol": args.symbol, "epoch": args.epoch,
            "cleared": done, "reason": args.reason}  # fmt: skip
    out.write(json.dumps(line) + "\n")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
