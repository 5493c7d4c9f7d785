"""The client's admin methods against a tiny API of the tests' own: each sends the signed-in
user's token (never an API key, even when one is configured), the method, path and body the
admin API takes, and reads the answer into typed values; a problem becomes an ApiError."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from exchange_client import ApiError, ApiKey, ClientConfig, ExchangeClient
from exchange_client.http import RetryPolicy, Transport

Seen = list[dict[str, Any]]
ACTION = {
    "audit_seq": 7,
    "complete": False,
    "commands": [
        {"symbol": "BTC-USD", "command_id": "adm_1", "outcome": "queued", "detail": None},
        {"symbol": "ETH-USD", "command_id": "adm_2", "outcome": "not_sent", "detail": "down"},
    ],
}
LISTING = {
    "symbol": "ACME-USD", "status": "TRADING", "version": 1, "shard": "s2", "status_seq": 0,
    "listed_seq": None, "base": "ACME", "quote": "USD", "asset_class": "EQUITY",
    "actor": "olga", "reason": "list ACME", "created_at": "2026-01-01T00:00:00Z",
    "instrument": {"symbol": "ACME-USD", "tick_size": "0.01"},
}  # fmt: skip
DIVIDEND = {
    "dividend_id": "div_q1", "symbol": "ACME-USD", "amount_per_unit": "0.25", "asset": "USD",
    "unit_asset": "ACME", "record_time": "2026-03-01T00:00:00Z",
    "pay_time": "2026-03-01T00:10:00Z", "issuer_account_id": "treasury", "status": "DECLARED",
    "declared_at": "2026-02-01T00:00:00Z", "actor": "olga", "reason": "Q1",
}  # fmt: skip
Answer = tuple[int, Any]


def against(
    answers: dict[tuple[str, str], Answer],
    scenario: Callable[[ExchangeClient], Awaitable[None]],
) -> Seen:
    seen: Seen = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append({
            "method": request.method, "path": request.path, "query": dict(request.query),
            "body": json.loads(body) if body else None,
            "authorization": request.headers.get("Authorization"),
        })  # fmt: skip
        status, answer = answers[(request.method, request.path)]
        content_type = "application/problem+json" if status >= 400 else "application/json"
        return web.Response(status=status, text=json.dumps(answer), content_type=content_type)

    async def token() -> str:
        return "operator-token"

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        server = TestServer(app)
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        key = ApiKey("ak_" + "Bot0000001", "sk_secret")
        client = ExchangeClient(ClientConfig(api_url=base, ws_url="", app_client_id="c"))
        client.http = Transport(
            base, token=token, api_key=key, retry=RetryPolicy(attempts=1, base_delay_s=0.001)
        )
        try:
            await scenario(client)
        finally:
            await client.close()
            await server.close()

    asyncio.run(main())
    return seen


def test_each_action_sends_its_method_path_and_reason_with_the_token() -> None:
    answers: dict[tuple[str, str], Answer] = {
        ("PUT", "/v1/admin/markets/BTC-USD/status"): (202, ACTION),
        ("POST", "/v1/admin/kill-switch"): (202, ACTION),
        ("POST", "/v1/admin/markets/BTC-USD/cancel-orders"): (202, ACTION),
        ("POST", "/v1/admin/accounts/alice/cancel-orders"): (202, ACTION),
        ("POST", "/v1/admin/accounts/alice/freeze"): (
            202, {**ACTION, "account_id": "alice", "frozen": True, "changed": True}),
        ("POST", "/v1/admin/accounts/alice/unfreeze"): (
            202, {**ACTION, "account_id": "alice", "frozen": False, "changed": False}),
    }  # fmt: skip

    async def scenario(client: ExchangeClient) -> None:
        halted = await client.set_status("BTC-USD", "halted", reason="erroneous prints")
        assert (halted.audit_seq, halted.complete) == (7, False)
        assert [c.symbol for c in halted.not_sent] == ["ETH-USD"]
        await client.kill_switch("HALTED", reason="market-wide")
        await client.cancel_orders(symbol="BTC-USD", reason="clean up")
        await client.cancel_orders(account_id="alice", reason="clean up")
        frozen = await client.freeze_account("alice", reason="AML hold")
        assert (frozen.account_id, frozen.frozen, frozen.changed) == ("alice", True, True)
        assert not (await client.unfreeze_account("alice", reason="cleared")).frozen

    seen = against(answers, scenario)
    assert [(s["method"], s["path"], s["body"]) for s in seen] == [
        ("PUT", "/v1/admin/markets/BTC-USD/status",
         {"status": "HALTED", "reason": "erroneous prints"}),
        ("POST", "/v1/admin/kill-switch", {"status": "HALTED", "reason": "market-wide"}),
        ("POST", "/v1/admin/markets/BTC-USD/cancel-orders",
         {"reason": "clean up", "account_id": None}),
        ("POST", "/v1/admin/accounts/alice/cancel-orders", {"reason": "clean up"}),
        ("POST", "/v1/admin/accounts/alice/freeze", {"reason": "AML hold"}),
        ("POST", "/v1/admin/accounts/alice/unfreeze", {"reason": "cleared"}),
    ]  # fmt: skip
    assert {s["authorization"] for s in seen} == {"operator-token"}


def test_listings_dividends_markets_and_the_audit_log_read_into_typed_values() -> None:
    record = datetime(2026, 3, 1, tzinfo=UTC)
    answers: dict[tuple[str, str], Answer] = {
        ("GET", "/v1/admin/markets"): (200, {"markets": [LISTING]}),
        ("GET", "/v1/admin/instruments/ACME-USD"): (
            200, {"listing": LISTING, "history": [LISTING]}),
        ("PUT", "/v1/admin/instruments/ACME-USD"): (202, {
            "listing": LISTING, "republished": False, "audit_seq": 3,
            "command": {"symbol": "ACME-USD", "command_id": "list:ACME-USD:1",
                        "outcome": "queued"}}),
        ("POST", "/v1/admin/dividends"): (201, DIVIDEND),
        ("GET", "/v1/admin/dividends"): (200, {"dividends": [DIVIDEND]}),
        ("GET", "/v1/admin/audit"): (200, {
            "entries": [{"seq": 2, "kind": "admin_status_set", "hash": "h2", "prev_hash": "h1",
                         "time": "2026-01-01T00:00:00Z",
                         "operator": {"username": "olga", "sub": "s-1"}, "reason": "why",
                         "request_id": "r", "details": {"symbols": ["BTC-USD"]}}],
            "next_before": 2, "verified": True, "head_seq": 2}),
    }  # fmt: skip

    async def scenario(client: ExchangeClient) -> None:
        (market,) = await client.admin_markets()
        assert (market.symbol, market.version, market.shard) == ("ACME-USD", 1, "s2")
        detail = await client.admin_instrument("ACME-USD")
        assert detail.listing.instrument["tick_size"] == "0.01"
        assert len(detail.history) == 1
        result = await client.list_instrument(
            "ACME-USD", {"base": "ACME"}, reason="list ACME", version=1, shard="s2"
        )
        assert result.command.command_id == "list:ACME-USD:1"
        assert not result.republished
        dividend = await client.declare_dividend(
            "ACME-USD", amount_per_unit=Decimal("0.25"), record_time=record,
            pay_time=record + timedelta(minutes=10), issuer_account_id="treasury", reason="Q1",
        )  # fmt: skip
        assert dividend.amount_per_unit == Decimal("0.25")
        assert dividend.status == "DECLARED"
        assert [d.dividend_id for d in await client.admin_dividends("ACME-USD")] == ["div_q1"]
        page = await client.admin_audit(limit=1)
        assert page.verified
        assert page.next_before == 2
        assert page.entries[0].operator is not None
        assert page.entries[0].operator.username == "olga"

    seen = against(answers, scenario)
    listing, declared, listed, audit = seen[2], seen[3], seen[4], seen[5]
    assert listing["body"] == {
        "instrument": {"base": "ACME"},
        "reason": "list ACME",
        "version": 1,
        "shard": "s2",
    }
    assert declared["body"]["amount_per_unit"] == "0.25"
    assert declared["body"]["record_time"] == "2026-03-01T00:00:00+00:00"
    assert declared["body"]["dividend_id"].startswith("div_")  # made here: a retry is the same
    assert listed["query"] == {"symbol": "ACME-USD"}
    assert audit["query"] == {"limit": "1"}


def test_a_refusal_is_an_api_error_with_the_problem() -> None:
    problem = {"type": "urn:exchange:problem:not_an_operator", "title": "Forbidden",
               "status": 403, "detail": "only members of the 'operators' group",
               "code": "not_an_operator"}  # fmt: skip
    answers: dict[tuple[str, str], Answer] = {("POST", "/v1/admin/kill-switch"): (403, problem)}

    async def scenario(client: ExchangeClient) -> None:
        with pytest.raises(ApiError) as refused:
            await client.kill_switch("HALTED", reason="market-wide")
        assert (refused.value.status, refused.value.code) == (403, "not_an_operator")

    against(answers, scenario)


def test_a_naive_time_or_a_float_amount_is_refused_before_sending() -> None:
    async def scenario(client: ExchangeClient) -> None:
        with pytest.raises(ValueError, match="naive"):
            await client.declare_dividend(
                "ACME-USD", amount_per_unit="0.25", record_time=datetime(2026, 3, 1),
                pay_time=datetime(2026, 3, 2, tzinfo=UTC), issuer_account_id="t", reason="Q1",
            )  # fmt: skip
        with pytest.raises(TypeError):
            await client.declare_dividend(
                "ACME-USD", amount_per_unit=0.25,  # type: ignore[arg-type]
                record_time=datetime(2026, 3, 1, tzinfo=UTC),
                pay_time=datetime(2026, 3, 2, tzinfo=UTC), issuer_account_id="t", reason="Q1",
            )  # fmt: skip

    assert against({}, scenario) == []


def test_public_markets_carry_their_status_version_and_asset_class() -> None:
    market = {"symbol": "ACME-USD", "base": "ACME", "quote": "USD", "tick_size": "0.01",
              "lot_size": "1", "min_qty": "1", "max_qty": "10000", "price_band_pct": "10",
              "status": "CANCEL_ONLY", "version": 3, "asset_class": "EQUITY",
              "maker_fee_bps": 2, "taker_fee_bps": 5}  # fmt: skip
    answers: dict[tuple[str, str], Answer] = {("GET", "/v1/markets"): (200, {"markets": [market]})}

    async def scenario(client: ExchangeClient) -> None:
        (acme,) = await client.markets()
        assert (acme.status, acme.version, acme.asset_class) == ("CANCEL_ONLY", 3, "EQUITY")
        assert acme.tick_size == Decimal("0.01")

    (seen,) = against(answers, scenario)
    assert seen["authorization"] is None  # public: no credential sent
