"""The account function's statement routes over the real PostgreSQL ledger: ``GET
/v1/transactions`` pages every line once with its cursor, and ``GET /v1/transactions/csv``
answers the whole range as an RFC 4180 download."""

import csv
import io
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import Side
from exchange.http.routes import statements as statement_routes
from exchange.ledger.postgres import PostgresLedger
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.account.handler import handler as account_handler
from tests.integration.api.conftest import call_account
from tests.unit.ledger.helpers import fund, order, trade, verified_account

# (kind, asset, amount, balance_after), oldest first: the amounts at the assets' scales (8).
EXPECTED = [
    ("DEPOSIT", "USD", "10000.00000000", "10000.00000000"),
    ("DEPOSIT", "USD", "0.50000000", "10000.50000000"),
    ("FEE", "USD", "-3.25000000", "9997.25000000"),  # 5 bps of 6,500 as the taker
    ("TRADE", "BTC", "0.10000000", "0.10000000"),
    ("TRADE", "USD", "-6500.00000000", "3497.25000000"),
]


def funded_trader(ledger: PostgresLedger) -> str:
    """An account with two deposits and a buy of 0.1 BTC at 65,000 as the taker."""
    buyer = verified_account(ledger, USD="10000")
    fund(ledger, buyer, "USD", "0.5")
    seller = verified_account(ledger, BTC="1")
    sell = order(seller, Side.SELL, qty=1000, price=6500000)
    buy = order(buyer, Side.BUY, qty=1000, price=6500000)
    ledger.reserve(sell)
    ledger.reserve(buy)
    ledger.apply_event(trade(sell, buy, price=6500000, qty=1000))
    return buyer


def page_through(ledger: PostgresLedger, account: str, **query: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for _ in range(20):
        reply = call_account(ledger, "GET", "/v1/transactions", query=query, account_id=account)
        assert reply.status == 200, reply.body
        lines.extend(reply.body["transactions"])
        if reply.body["next_cursor"] is None:
            return lines
        query = {**query, "cursor": reply.body["next_cursor"]}
    raise AssertionError("paging did not end")


def rows(lines: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(x["kind"], x["asset"], x["amount"], x["balance_after"]) for x in lines]


def get_csv(ledger: PostgresLedger, account: str, **query: str) -> dict[str, Any]:
    event = rest_event("GET", "/v1/transactions/csv", query=query, account_id=account)
    response: dict[str, Any] = account_handler(event, LambdaContextStub(), services=[ledger])
    return response


def test_transactions_page_by_cursor_once_each_and_add_up_to_the_balances(
    ledger: PostgresLedger,
) -> None:
    # Given an account with two deposits and a fill
    alice = funded_trader(ledger)
    # When its statement is read two lines at a time, in both orders
    oldest = page_through(ledger, alice, limit="2", order="asc")
    newest = page_through(ledger, alice, limit="2")
    # Then every line comes once, at the asset's scale, with the running balance
    assert rows(oldest) == EXPECTED
    assert newest == oldest[::-1]
    assert oldest[-1]["reference"] == f"BTC-USD#{oldest[-1]['seq']}"
    # And each asset's lines add up to its balance
    for balance in ledger.balances(alice):
        mine = [line for line in oldest if line["asset"] == balance.asset]
        assert sum(Decimal(line["amount"]) for line in mine) == balance.total


def test_filters_and_cursors_of_another_listing(ledger: PostgresLedger) -> None:
    alice = funded_trader(ledger)
    # An asset filter, and a time range ending before everything
    assert rows(page_through(ledger, alice, asset="BTC")) == [EXPECTED[3]]
    early = {"start": "2000-01-01T00:00:00Z", "end": "2000-01-02T00:00:00Z"}
    assert page_through(ledger, alice, **early) == []
    # A cursor sent with another order, a forged one, an empty range, an unknown parameter
    first = call_account(ledger, "GET", "/v1/transactions", query={"limit": "1"}, account_id=alice)
    cursor = first.body["next_cursor"]
    refused = [
        ({"limit": "1", "order": "asc", "cursor": cursor}, 400, "invalid_cursor"),
        ({"cursor": "eyJ2IjoxLCJrIjp7InQiOiJ4In19"}, 400, "invalid_cursor"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, 422, None),
        ({"start": "1767225600"}, 400, None),  # a bare number is ambiguous
        ({"assets": "USD"}, 400, None),
    ]
    for query, status, code in refused:
        reply = call_account(ledger, "GET", "/v1/transactions", query=query, account_id=alice)
        assert reply.status == status, (query, reply.body)
        assert reply.is_problem
        assert code is None or reply.body["code"] == code


def test_csv_export_has_every_line_of_the_range_with_a_header(
    ledger: PostgresLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an account with five lines, and an export that reads them two per page
    alice = funded_trader(ledger)
    monkeypatch.setattr(statement_routes, "CSV_PAGE", 2)
    # When it downloads its statement
    response = get_csv(ledger, alice, start="2000-01-01T00:00:00Z")
    # Then it is one CSV attachment (RFC 4180: CRLF) with every line, oldest first
    headers = {k: v[0] for k, v in response["multiValueHeaders"].items()}
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == (
        'attachment; filename="transactions-from-20000101T000000Z.csv"'
    )
    text = response["body"]
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert table[0] == [
        "tx_id",
        "at",
        "kind",
        "asset",
        "amount",
        "balance_after",
        "reference",
        "symbol",
        "seq",
    ]
    assert [(r[2], r[3], r[4], r[5]) for r in table[1:]] == EXPECTED
    assert [r[7] for r in table[1:]] == ["", "", "BTC-USD", "BTC-USD", "BTC-USD"]


def test_csv_export_past_its_cap_is_refused_not_cut_short(
    ledger: PostgresLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = funded_trader(ledger)
    monkeypatch.setattr(statement_routes, "MAX_CSV_LINES", 4)
    monkeypatch.setattr(statement_routes, "CSV_PAGE", 3)
    response = get_csv(ledger, alice)
    assert response["statusCode"] == 422
    assert '"code":"statement_too_large"' in response["body"]
    assert len(get_csv(ledger, alice, asset="USD")["body"].splitlines()) == 5  # 4 lines fit
