"""The statement as CSV (``GET /v1/transactions/csv``): RFC 4180 text, a header row, one row per
line, CRLF line ends, a field quoted when it holds a comma, a double quote or a line break (its
quotes doubled).

A text field that a spreadsheet would run as a formula (it begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is written with a leading apostrophe: a reference comes from
outside (a payment provider's deposit id), and opening the export must never run it. Amounts are
numbers and are written as they are (``-500.00000000``).

>>> from datetime import UTC, datetime
>>> from decimal import Decimal
>>> from exchange.ledger.statements import MovementKind
>>> line = StatementLine(7, datetime(2026, 12, 6, 10, 0, 5, tzinfo=UTC), MovementKind.DEPOSIT,
...                      "USD", Decimal("100.00"), Decimal("100.00"), "=1+1,x")
>>> statement_csv([line]).splitlines()[1]
'7,2026-12-06T10:00:05.000Z,DEPOSIT,USD,100.00,100.00,"\\'=1+1,x",,'
"""

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from http import HTTPStatus
from typing import Final

from exchange.domain.numbers import plain
from exchange.http.problems import HttpProblem
from exchange.http.statement_schemas import iso
from exchange.ledger.statements import StatementLine, StatementQuery

CSV_CONTENT_TYPE: Final = "text/csv; charset=utf-8"
COLUMNS: Final = (
    "tx_id",
    "at",
    "kind",
    "asset",
    "amount",
    "balance_after",
    "reference",
    "symbol",
    "seq",
)
# A synchronous Lambda invocation answers at most 6 MB ("Invoke", AWS Lambda API reference), and
# API Gateway's proxy response wraps the CSV in JSON (quotes escaped): the export stops well
# below that, and a range with more lines is refused rather than cut short.
MAX_CSV_LINES: Final = 20_000
MAX_CSV_BYTES: Final = 4_000_000
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class StatementTooLarge(HttpProblem):
    code = "statement_too_large"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


def statement_csv(lines: Iterable[StatementLine]) -> str:
    """The header row and one row per line, in the order given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(
            (
                line.tx_id,
                iso(line.at),
                line.kind.value,
                _text(line.asset),
                plain(line.amount),
                plain(line.balance_after),
                _text(line.reference),
                "" if line.symbol is None else _text(line.symbol),
                "" if line.seq is None else line.seq,
            )
        )
    return out.getvalue()


def checked_size(text: str) -> str:
    """``text``; StatementTooLarge (422) when its UTF-8 would not fit in a response."""
    if len(text.encode("utf-8")) > MAX_CSV_BYTES:
        raise StatementTooLarge(
            f"the export exceeds {MAX_CSV_BYTES} bytes; ask for a shorter range (start, end)"
        )
    return text


def csv_filename(query: StatementQuery) -> str:
    """``transactions[-ASSET][-from-<start>][-to-<end>].csv``, times as ``20261206T100000Z``."""
    parts = ["transactions"]
    if query.asset is not None:
        parts.append(query.asset)
    if query.start is not None:
        parts.extend(("from", _compact(query.start)))
    if query.end is not None:
        parts.extend(("to", _compact(query.end)))
    return "-".join(parts) + ".csv"


def _compact(moment: datetime) -> str:
    return iso(moment)[:19].replace("-", "").replace(":", "") + "Z"


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
