"""Redrive the settlement consumer's quarantined journal records into the ledger, after a fix.

    python -m exchange.ledger.redrive list --consumer settlement [--symbol S] [--all]
    python -m exchange.ledger.redrive replay --consumer settlement [--symbol S]

``list`` prints one JSON line per item not yet redriven (``--all``: redriven ones too): a
quarantined record, or one part of a record too large for one item
(``exchange.journal.quarantine.pieces``). ``replay`` applies each item's events again, in symbol
and seq order, as the consumer does
(one transaction, or one per event if the ledger refuses one); the ledger is idempotent on
``(symbol, seq)``, so events applied before change nothing. A record whose every event applies is
marked ``redriven_ns``; one that still fails stays quarantined. It prints one JSON line per item,
e.g. ``{"symbol": "BTC-USD", "first_seq": 7, "last_seq": 9, "status": "redriven", "applied": 1}``,
and exits 1 when any still fails.

It runs with the settlement function's settings (``SettlementSettings``, from the environment:
the database, the quarantine table, the instruments) and builds the same ledger it does.
"""

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from exchange.domain.errors import WireFormatError
from exchange.instruments.composition import live_catalog
from exchange.journal.quarantine import DynamoQuarantineStore, Quarantined, QuarantineStore
from exchange.ledger.consumer import Settlement, settle
from exchange.ledger.port import LedgerPort
from exchange.ledger.postgres import PostgresLedger
from exchange.settings import SettlementSettings, load_settings
from exchange.tables import bind_tables

CONSUMERS = (Settlement.name,)


def describe(item: Quarantined) -> dict[str, Any]:
    return {
        "consumer": item.consumer,
        "symbol": item.symbol,
        "first_seq": item.first_seq,
        "last_seq": item.last_seq,
        "error": item.error,
        "quarantined_ns": item.quarantined_ns,
        "redriven_ns": item.redriven_ns,
        "size": len(item.payload),
    }


def replay(
    ledger: LedgerPort,
    store: QuarantineStore,
    items: Sequence[Quarantined],
    *,
    clock: Callable[[], int] = time.time_ns,
) -> list[dict[str, Any]]:
    """Apply ``items`` again; one outcome per item (``status`` redriven or failed)."""
    outcomes = []
    for item in items:
        outcome: dict[str, Any] = {
            "symbol": item.symbol,
            "first_seq": item.first_seq,
            "last_seq": item.last_seq,
        }
        try:
            record = item.record()
        except WireFormatError as exc:
            outcomes.append({**outcome, "status": "failed", "error": str(exc)})
            continue
        settled = settle(ledger, record.events)
        if settled.refused:
            outcome |= {"status": "failed", "applied": settled.applied}
            outcomes.append({**outcome, "error": settled.error_text()})
            continue
        store.mark_redriven(item, now_ns=clock())
        outcomes.append({**outcome, "status": "redriven", "applied": settled.applied})
    return outcomes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m exchange.ledger.redrive",
        description="List or replay the settlement consumer's quarantined journal records.",
    )
    parser.add_argument("action", choices=("list", "replay"))
    parser.add_argument("--consumer", required=True, choices=CONSUMERS)
    parser.add_argument("--symbol", help="only this symbol's records")
    parser.add_argument("--all", action="store_true", help="list: redriven records too")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    ledger: LedgerPort | None = None,
    store: QuarantineStore | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """The command; tests pass their own ``ledger`` and ``store``."""
    args = _parser().parse_args(argv)
    owned: PostgresLedger | None = None
    if ledger is None or store is None:
        settings = load_settings(SettlementSettings)
        bind_tables(settings)
        if ledger is None:
            ledger = owned = PostgresLedger.from_settings(settings, live_catalog(settings))
        store = store or DynamoQuarantineStore()
    try:
        listing = args.action == "list"
        items = store.items(args.consumer, symbol=args.symbol, redriven=args.all and listing)
        lines = [describe(item) for item in items] if listing else replay(ledger, store, items)
        for line in lines:
            out.write(json.dumps(line) + "\n")
        return 1 if any(line.get("status") == "failed" for line in lines) else 0
    finally:
        if owned is not None:
            owned.pool.close()


if __name__ == "__main__":
    sys.exit(main())
