"""The audit log on DynamoDB (the ``audit`` table): one conditional put per entry, so a replay
writes nothing new, and an entry that exists with another hash is an ``AuditConflict``.

``python -m exchange.journal.audit_log verify --symbol BTC-USD`` walks a symbol's chain (with the
deployment's ``EXCHANGE_AUDIT_TABLE``, ``AWS_REGION``, ``EXCHANGE_AWS_ENDPOINT_URL``) and exits 0
when the chain is whole, 1 at the first break (printed as JSON either way).
"""

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict

from pynamodb.exceptions import PutError

from exchange.journal.audit import AuditConflict, AuditEntry, verify
from exchange.settings import ConsumerSettings, load_settings
from exchange.tables import AuditRecord, bind_tables, condition_failed


def audit_row(entry: AuditEntry) -> AuditRecord:
    return AuditRecord(
        entry.symbol,
        entry.seq,
        kind=entry.kind,
        payload=entry.payload,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        recorded_ns=entry.recorded_ns,
    )


def put_audit(entry: AuditEntry) -> None:
    try:
        audit_row(entry).save(condition=AuditRecord.seq.does_not_exist())
        return
    except PutError as exc:
        if not condition_failed(exc):
            raise
    existing = AuditRecord.get(entry.symbol, entry.seq, consistent_read=True)
    if existing.hash != entry.hash or existing.prev_hash != entry.prev_hash:
        raise AuditConflict(
            f"audit {entry.symbol}#{entry.seq} exists with hash {existing.hash}, not {entry.hash}"
        )


def audit_entries(symbol: str) -> Iterator[AuditEntry]:
    """A symbol's audit log in seq order, page by page (the verifier's input)."""
    for row in AuditRecord.query(symbol, scan_index_forward=True, consistent_read=True):
        yield AuditEntry(
            symbol=row.symbol,
            seq=int(row.seq),
            kind=row.kind,
            payload=bytes(row.payload),
            prev_hash=row.prev_hash,
            hash=row.hash,
            recorded_ns=int(row.recorded_ns),
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.journal.audit_log")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="walk a symbol's hash chain")
    check.add_argument("--symbol", required=True)
    args = parser.parse_args(argv)
    bind_tables(load_settings(ConsumerSettings))
    report = verify(args.symbol, audit_entries(args.symbol))
    sys.stdout.write(json.dumps({**asdict(report), "ok": report.ok}) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
