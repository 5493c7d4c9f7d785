"""The statement's wire formats: the CSV export (RFC 4180: header, CRLF, quoting; no formula a
spreadsheet would run) and the opaque cursor (round trip; another listing's or a forged one is
refused)."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchange.http.cursor import encode_cursor
from exchange.http.market_schemas import epoch_ns
from exchange.http.statement_csv import (
    COLUMNS,
    MAX_CSV_BYTES,
    StatementTooLarge,
    checked_size,
    csv_filename,
    statement_csv,
)
from exchange.http.statement_schemas import statement_cursor, statement_query, transaction_out
from exchange.ledger.statements import (
    MovementKind,
    StatementLine,
    StatementPosition,
    StatementQuery,
)
from exchange.orders.errors import InvalidCursor

AT = datetime(2026, 12, 6, 10, 0, 5, 123456, tzinfo=UTC)


def line(reference: str = "dep-1", **changes: object) -> StatementLine:
    fields: dict[str, object] = {
        "tx_id": 7,
        "at": AT,
        "kind": MovementKind.DEPOSIT,
        "asset": "USD",
        "amount": Decimal("100.00000000"),
        "balance_after": Decimal("100.00000000"),
        "reference": reference,
    }
    fields.update(changes)
    return StatementLine(**fields)  # type: ignore[arg-type]


def parsed(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_has_a_header_then_one_crlf_row_per_line() -> None:
    # Given a deposit and a trade leg
    trade = line(
        "BTC-USD#42",
        tx_id=8,
        kind=MovementKind.TRADE,
        amount=Decimal("-6500.00000000"),
        balance_after=Decimal("-6400.00000000"),
        symbol="BTC-USD",
        seq=42,
    )
    # When they are written
    text = statement_csv([line(), trade])
    # Then every record ends in CRLF, and a CSV reader gets the values back exactly
    assert text.count("\r\n") == 3
    assert "\n" not in text.replace("\r\n", "")
    assert parsed(text) == [
        list(COLUMNS),
        ["7", "2026-12-06T10:00:05.123Z", "DEPOSIT", "USD", "100.00000000", "100.00000000",
         "dep-1", "", ""],
        ["8", "2026-12-06T10:00:05.123Z", "TRADE", "USD", "-6500.00000000", "-6400.00000000",
         "BTC-USD#42", "BTC-USD", "42"],
    ]  # fmt: skip


def test_csv_quotes_commas_quotes_and_line_breaks_and_defuses_formulas() -> None:
    # Given references from outside that a naive writer or a spreadsheet would misread
    references = ["a,b", 'say "hi"', "two\r\nlines", "=HYPERLINK(1)", "+1", "@SUM(A1)", "-2"]
    # When they are written
    text = statement_csv([line(reference) for reference in references])
    # Then each is one field (quoted, its quotes doubled), and no field starts a formula
    assert '"a,b"' in text
    assert '"say ""hi"""' in text
    assert [row[6] for row in parsed(text)[1:]] == [
        "a,b", 'say "hi"', "two\r\nlines", "'=HYPERLINK(1)", "'+1", "'@SUM(A1)", "'-2",
    ]  # fmt: skip


def test_an_empty_statement_is_the_header_alone() -> None:
    assert statement_csv([]) == ",".join(COLUMNS) + "\r\n"


def test_an_export_too_large_for_a_response_is_refused() -> None:
    assert checked_size("x" * MAX_CSV_BYTES) == "x" * MAX_CSV_BYTES
    with pytest.raises(StatementTooLarge):
        checked_size("é" * (MAX_CSV_BYTES // 2 + 1))  # two bytes each in UTF-8


def test_the_filename_names_the_asset_and_the_range() -> None:
    everything = statement_query(
        "a-1", asset=None, start=None, end=None, order="asc", limit=1, cursor=None
    )
    ranged = statement_query(
        "a-1", asset="BTC", start=AT, end=datetime(2027, 1, 1, tzinfo=UTC), order="asc",
        limit=1, cursor=None,
    )  # fmt: skip
    assert csv_filename(everything) == "transactions.csv"
    assert csv_filename(ranged) == "transactions-BTC-from-20261206T100005Z-to-20270101T000000Z.csv"


def test_a_line_goes_out_at_its_assets_scale_and_signed() -> None:
    out = transaction_out(line(amount=Decimal("-0.50000000"), balance_after=Decimal("0E-8")))
    assert (out.amount, out.balance_after) == ("-0.50000000", "0.00000000")
    assert out.at == "2026-12-06T10:00:05.123Z"


# -- the cursor -----------------------------------------------------------------------------------
def query(cursor: str | None = None, **changes: object) -> StatementQuery:
    params: dict[str, object] = {
        "asset": "USD", "start": AT, "end": None, "order": "desc", "limit": 10, "cursor": cursor,
    }  # fmt: skip
    params.update(changes)
    return statement_query("a-1", **params)  # type: ignore[arg-type]


def test_a_cursor_continues_its_own_listing() -> None:
    first = statement_query(
        "a-1", asset="USD", start=AT, end=None, order="desc", limit=10, cursor=None
    )
    position = StatementPosition(99, MovementKind.REBATE, "USD")
    token = statement_cursor(first, position)
    assert token is not None
    again = statement_query(
        "a-1", asset="USD", start=AT, end=None, order="desc", limit=10, cursor=token
    )
    assert again.after == position
    assert (again.asset, again.start, again.newest_first, again.limit) == ("USD", AT, True, 10)
    assert statement_cursor(first, None) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"order": "asc"},
        {"asset": "BTC"},
        {"start": None},
        {"end": datetime(2027, 1, 1, tzinfo=UTC)},
    ],
)
def test_a_cursor_sent_with_another_listing_is_refused(changes: dict[str, object]) -> None:
    token = statement_cursor(
        statement_query("a-1", asset="USD", start=AT, end=None, order="desc", limit=10,
                        cursor=None),
        StatementPosition(5, MovementKind.FEE, "USD"),
    )  # fmt: skip
    with pytest.raises(InvalidCursor):
        query(token, **changes)


def test_a_forged_or_malformed_cursor_is_refused() -> None:
    listing = f"USD|desc|{epoch_ns(AT)}|"
    good: dict[str, str | int] = {"l": listing, "t": 5, "k": "FEE", "a": "USD"}
    assert query(encode_cursor(good)).after == StatementPosition(5, MovementKind.FEE, "USD")
    forgeries: list[dict[str, str | int]] = [
        {**good, "t": -1},
        {**good, "t": "5"},
        {**good, "k": "GIFT"},
        {**good, "a": "usd; drop"},
        {"l": listing, "t": 5, "k": "FEE"},
    ]
    for forged in forgeries:
        with pytest.raises(InvalidCursor):
            query(encode_cursor(forged))
    with pytest.raises(InvalidCursor):
        query("not-a-cursor")
