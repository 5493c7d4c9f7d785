"""``exchange admin``: each command's request, its table or ``--json`` output, and its exit code
(1 a refusal, 3 the exchange failed, 4 an action that missed symbols, 5 a broken audit chain),
with the problem's title and detail on stderr. The client's transport is a fake that records
what it is asked and answers what the test says."""

import json
from pathlib import Path
from typing import Any

import pytest

from exchange_client import ApiError, ClientConfig, ExchangeClient, cli

ACTION = {
    "audit_seq": 4,
    "complete": True,
    "commands": [{"symbol": "BTC-USD", "command_id": "adm_1", "outcome": "queued"}],
}
ACME = {"base": "ACME", "quote": "USD", "tick_size": "0.01", "lot_size": "1", "min_qty": "1",
        "max_qty": "10000", "price_band_pct": "10", "asset_class": "EQUITY"}  # fmt: skip
LISTING = {"symbol": "BTC-USD", "status": "TRADING", "version": 1, "shard": "s1",
           "actor": "seed", "instrument": {"symbol": "BTC-USD", "base": "BTC", "quote": "USD",
                                          "tick_size": "0.01", "taker_fee_bps": 5,
                                          "status": "TRADING"}}  # fmt: skip
RESULT = {
    "listing": LISTING,
    "republished": False,
    "audit_seq": 5,
    "command": {"symbol": "BTC-USD", "command_id": "list:BTC-USD:2", "outcome": "queued"},
}


class FakeHttp:
    def __init__(self, answers: dict[tuple[str, str], Any]) -> None:
        self.answers = answers
        self.sent: list[dict[str, Any]] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.sent.append({"method": method, "path": path, **kwargs})
        answer = self.answers[(method, path)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def close(self) -> None:
        return None


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> FakeHttp:
    fake = FakeHttp({})

    async def signed_in(args: Any, *, token_only: bool = False) -> ExchangeClient:
        assert token_only, "admin commands take the user's token, never an API key"
        client = ExchangeClient(ClientConfig(api_url="http://x", ws_url="", app_client_id="c"))
        client.http = fake  # type: ignore[assignment]
        return client

    monkeypatch.setattr(cli, "_client", signed_in)
    return fake


def run(*argv: str) -> int:
    return cli.main(["admin", *argv])


def test_halt_and_resume_are_status_changes_with_the_reason(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    http.answers[("PUT", "/v1/admin/markets/BTC-USD/status")] = ACTION
    assert run("halt", "BTC-USD", "--reason", "erroneous prints") == 0
    assert run("resume", "BTC-USD", "--reason", "prints corrected") == 0
    assert run("status", "BTC-USD", "post_only", "--reason", "thin book") == 0
    assert [s["body"]["status"] for s in http.sent] == ["HALTED", "TRADING", "POST_ONLY"]
    assert http.sent[0]["body"]["reason"] == "erroneous prints"
    assert all(s["token_only"] for s in http.sent)
    out = capsys.readouterr().out
    assert "audit entry #4" in out
    assert "adm_1" in out
    assert "queued" in out


def test_an_action_that_missed_symbols_exits_4_and_names_them(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    http.answers[("POST", "/v1/admin/kill-switch")] = {
        "audit_seq": 9, "complete": False,
        "commands": [{"symbol": "BTC-USD", "command_id": "adm_1", "outcome": "queued"},
                     {"symbol": "ETH-USD", "command_id": "adm_2", "outcome": "not_sent",
                      "detail": "broker_unavailable: down"}],
    }  # fmt: skip
    assert run("kill-switch", "halted", "--reason", "market-wide") == 4
    assert http.sent[0]["body"] == {"status": "HALTED", "reason": "market-wide"}
    assert "not sent to ETH-USD" in capsys.readouterr().err


def test_a_refusal_prints_the_problem_on_stderr_and_exits_1(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = {"title": "Forbidden", "status": 403, "code": "not_an_operator",
               "detail": "only members of the 'operators' group may use the admin API"}  # fmt: skip
    http.answers[("POST", "/v1/admin/accounts/alice/freeze")] = ApiError(403, problem)
    assert run("freeze", "alice", "--reason", "AML hold") == 1
    err = capsys.readouterr().err
    assert "403 Forbidden: only members of the 'operators' group" in err


def test_a_validation_problem_lists_its_fields_and_a_5xx_exits_3(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    invalid = {
        "title": "Bad Request",
        "status": 400,
        "detail": "invalid request: body.reason",
        "errors": [{"field": "body.reason", "message": "too short", "type": "x"}],
    }
    http.answers[("POST", "/v1/admin/accounts/alice/unfreeze")] = ApiError(400, invalid)
    assert run("unfreeze", "alice", "--reason", "ok?") == 1
    assert "body.reason: too short" in capsys.readouterr().err
    down = {"title": "Service Unavailable", "status": 503, "detail": "no command reached"}
    http.answers[("POST", "/v1/admin/accounts/bob/cancel-orders")] = ApiError(503, down)
    assert run("cancel-orders", "--account", "bob", "--reason", "clean up") == 3
    assert "503 Service Unavailable: no command reached" in capsys.readouterr().err


def test_cancel_orders_needs_a_symbol_or_an_account(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("cancel-orders", "--reason", "clean up") == 1
    assert not http.sent
    assert "--symbol, --account" in capsys.readouterr().err
    http.answers[("POST", "/v1/admin/markets/ETH-USD/cancel-orders")] = ACTION
    assert run("cancel-orders", "--symbol", "ETH-USD", "--account", "bob", "--reason", "x-y-z") == 0
    assert http.sent[0]["body"] == {"reason": "x-y-z", "account_id": "bob"}


def test_a_reason_is_required(http: FakeHttp) -> None:
    with pytest.raises(SystemExit) as usage:
        run("halt", "BTC-USD")
    assert usage.value.code == 2
    assert not http.sent


def test_markets_print_a_table_or_json(http: FakeHttp, capsys: pytest.CaptureFixture[str]) -> None:
    http.answers[("GET", "/v1/admin/markets")] = {"markets": [LISTING]}
    assert run("markets") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["symbol", "status", "version", "shard", "status_seq",
                                "listed_seq", "asset_class"]  # fmt: skip
    assert table[2].split()[:4] == ["BTC-USD", "TRADING", "1", "s1"]
    assert run("markets", "--json") == 0
    (market,) = json.loads(capsys.readouterr().out)
    assert (market["symbol"], market["version"]) == ("BTC-USD", 1)


def test_list_instrument_from_a_file_with_flags_over_it(
    http: FakeHttp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "acme.json"
    spec.write_text(json.dumps([{**ACME, "symbol": "ACME-USD"}, {**ACME, "symbol": "ACME-BTC"}]))
    http.answers[("PUT", "/v1/admin/instruments/ACME-USD")] = {**RESULT, "listing": {
        **LISTING, "symbol": "ACME-USD", "shard": "s2"}, "command": {
        "symbol": "ACME-USD", "command_id": "list:ACME-USD:1", "outcome": "queued"}}  # fmt: skip
    code = run("list-instrument", "ACME-USD", "--file", str(spec), "--reference-price", "25.00",
               "--shard", "s2", "--reason", "list ACME")  # fmt: skip
    assert code == 0
    (sent,) = http.sent
    assert sent["body"]["instrument"] == {**ACME, "symbol": "ACME-USD", "reference_price": "25.00"}
    assert (sent["body"]["shard"], sent["body"]["reason"]) == ("s2", "list ACME")
    assert "version" not in sent["body"]
    assert "list:ACME-USD:1" in capsys.readouterr().out


def test_list_instrument_with_flags_alone_changes_the_definition_in_force(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    http.answers[("GET", "/v1/admin/instruments/BTC-USD")] = {"listing": LISTING, "history": []}
    http.answers[("PUT", "/v1/admin/instruments/BTC-USD")] = RESULT
    code = run("list-instrument", "BTC-USD", "--taker-fee-bps", "7", "--version", "2",
               "--reason", "fee change")  # fmt: skip
    assert code == 0
    put = http.sent[-1]
    assert put["body"]["instrument"] == {"symbol": "BTC-USD", "base": "BTC", "quote": "USD",
                                         "tick_size": "0.01", "taker_fee_bps": 7}  # fmt: skip
    assert put["body"]["version"] == 2


def test_a_bad_decimal_flag_is_a_usage_error(http: FakeHttp) -> None:
    with pytest.raises(SystemExit):
        run("list-instrument", "ACME-USD", "--tick-size", "one cent", "--reason", "list")
    assert not http.sent


def test_dividends_are_declared_and_listed(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    dividend = {"dividend_id": "div_q1", "symbol": "ACME-USD", "amount_per_unit": "0.25",
                "record_time": "2026-03-01T00:00:00Z", "pay_time": "2026-03-01T00:10:00Z",
                "issuer_account_id": "treasury", "status": "DECLARED"}  # fmt: skip
    http.answers[("POST", "/v1/admin/dividends")] = dividend
    http.answers[("GET", "/v1/admin/dividends")] = {"dividends": [dividend]}
    code = run("dividend", "declare", "ACME-USD", "--amount", "0.25", "--record-time",
               "2026-03-01T00:00:00Z", "--pay-time", "2026-03-01T00:10:00Z", "--issuer",
               "treasury", "--id", "div_q1", "--reason", "Q1 dividend")  # fmt: skip
    assert code == 0
    body = http.sent[0]["body"]
    assert (body["amount_per_unit"], body["dividend_id"], body["record_time"]) == (
        "0.25", "div_q1", "2026-03-01T00:00:00+00:00"
    )  # fmt: skip
    assert run("dividends", "--symbol", "ACME-USD") == 0
    assert http.sent[1]["params"] == {"symbol": "ACME-USD"}
    assert "div_q1" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a time without a zone
        run("dividend", "declare", "ACME-USD", "--amount", "1", "--record-time",
            "2026-03-01T00:00:00", "--pay-time", "2026-03-01T00:10:00Z", "--issuer", "t",
            "--reason", "Q1")  # fmt: skip


def test_the_audit_log_and_a_broken_chain(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {"seq": 3, "kind": "admin_account_frozen", "hash": "h3", "prev_hash": "h2",
             "time": "2026-01-01T00:00:00Z", "operator": {"username": "olga", "sub": "s-1"},
             "reason": "AML hold", "details": {"account_id": "alice",
                                               "symbols": ["BTC-USD", "ETH-USD"]}}  # fmt: skip
    page = {"entries": [entry], "next_before": 3, "verified": True, "head_seq": 3}
    http.answers[("GET", "/v1/admin/audit")] = page
    assert run("audit", "--limit", "1") == 0
    out = capsys.readouterr().out
    assert "admin_account_frozen" in out
    assert "olga" in out
    assert "account_id=alice" in out
    assert "--before 3" in out
    assert "verified up to #3" in out
    assert http.sent[0]["params"] == {"limit": 1, "before": None}
    http.answers[("GET", "/v1/admin/audit")] = {
        **page,
        "verified": False,
        "broken_at": 2,
        "problem": "hash does not match",
    }
    assert run("audit") == 5
    assert "breaks at #2: hash does not match" in capsys.readouterr().err
