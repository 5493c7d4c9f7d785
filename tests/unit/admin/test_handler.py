"""``/v1/admin`` through the admin handler, with the claims API Gateway's Cognito authorizer
passes (``cognito:groups`` as its comma-joined string) over the in-memory ports: the group is
required on every route, bodies are validated, errors are problem+json, actions answer each
command's outcome."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from exchange.admin.audit import OPERATORS_PARTITION
from exchange.domain.commands import SetTradingStatus
from exchange.domain.enums import InstrumentStatus
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.admin.handler import APP, handler
from lambdas.catalog import FUNCTIONS
from tests.unit.admin.conftest import ACME, OLGA, Admin
from tests.unit.api.conftest import Reply

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
OPERATOR = {"username": "olga", "token_use": "access", "cognito:groups": "traders,operators"}
TRADER = {"username": "tom", "token_use": "access", "cognito:groups": "traders"}
REASON = "incident 42: erroneous prints"


@pytest.fixture(autouse=True)
def handler_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A database URL makes the ledger settings valid (the fakes never connect)."""
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")


def call(
    admin: Admin,
    method: str,
    path: str,
    *,
    resource: str | None = None,
    params: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    sub: str = OLGA.sub,
    **kwargs: Any,
) -> Reply:
    event = rest_event(
        method,
        path,
        resource=resource or path,
        path_parameters=params,
        account_id=sub,
        claims=OPERATOR if claims is None else claims,
        request_id="req-9",
        **kwargs,
    )
    return Reply.of(handler(event, LambdaContextStub(), admin=admin.service))


def status_of(admin: Admin, symbol: str, body: dict[str, Any], **kwargs: Any) -> Reply:
    return call(
        admin,
        "PUT",
        f"/v1/admin/markets/{symbol}/status",
        resource="/v1/admin/markets/{symbol}/status",
        params={"symbol": symbol},
        body=body,
        **kwargs,
    )


def test_the_function_serves_exactly_its_catalog_routes() -> None:
    paths = APP.get_openapi_schema().paths or {}
    served = {
        (method.upper(), path)
        for path, item in paths.items()
        for method in ("get", "post", "put", "patch", "delete")
        if getattr(item, method) is not None
    }
    assert served == {(route.method, route.path) for route in FUNCTIONS["admin"].routes}


def test_an_operator_halts_a_symbol_and_gets_the_command_id(admin: Admin) -> None:
    reply = status_of(admin, "BTC-USD", {"status": "HALTED", "reason": REASON})
    assert reply.status == 202, reply.body
    assert reply.body["complete"] is True
    (command,) = reply.body["commands"]
    assert command["symbol"] == "BTC-USD"
    assert command["outcome"] == "queued"
    (sent,) = admin.sink.sent
    assert isinstance(sent, SetTradingStatus)
    assert sent.command_id == command["command_id"]
    assert sent.status is InstrumentStatus.HALTED
    assert sent.actor == "olga"
    entry = admin.audit.chains[OPERATORS_PARTITION][reply.body["audit_seq"] - 1]
    assert b'"request_id":"req-9"' in entry.payload
    assert OLGA.sub.encode() in entry.payload


Route = tuple[str, str, str | None, dict[str, str] | None, dict[str, Any] | None]


@pytest.mark.parametrize(
    "route",
    [
        ("GET", "/v1/admin/markets", None, None, None),
        ("GET", "/v1/admin/audit", None, None, None),
        ("GET", "/v1/admin/dividends", None, None, None),
        (
            "GET",
            "/v1/admin/instruments/BTC-USD",
            "/v1/admin/instruments/{symbol}",
            {"symbol": "BTC-USD"},
            None,
        ),
        ("POST", "/v1/admin/kill-switch", None, None, {"status": "HALTED", "reason": REASON}),
        (
            "POST",
            "/v1/admin/accounts/alice/freeze",
            "/v1/admin/accounts/{account_id}/freeze",
            {"account_id": "alice"},
            {"reason": REASON},
        ),
    ],
    ids=lambda route: f"{route[0]} {route[1]}",
)
def test_a_user_outside_the_operators_group_gets_403_and_nothing_happens(
    admin: Admin, route: Route
) -> None:
    method, path, resource, params, body = route
    for claims in (
        TRADER,
        {"username": "tom", "token_use": "access"},
        {**OPERATOR, "cognito:groups": "[operators]"},
    ):
        reply = call(
            admin, method, path, resource=resource, params=params, body=body, claims=claims
        )
        assert reply.status == 403, reply.body
        assert reply.is_problem
        assert reply.body["code"] == "not_an_operator"
        assert reply.headers["Content-Type"] == "application/problem+json"
    assert not admin.sink.sent
    assert not admin.timeline
    assert not admin.ledger.is_frozen("alice")


@pytest.mark.parametrize(
    "body",
    [
        {"status": "HALTED"},  # no reason
        {"status": "HALTED", "reason": "no"},  # too short
        {"status": "HALTED", "reason": "   x  "},  # too short once trimmed
        {"status": "HALTED", "reason": "x" * 501},
        {"status": "PAUSED", "reason": REASON},  # not a status
        {"status": "HALTED", "reason": REASON, "extra": 1},
    ],
)
def test_a_malformed_action_is_refused_with_the_offending_field(
    admin: Admin, body: dict[str, Any]
) -> None:
    reply = status_of(admin, "BTC-USD", body)
    assert reply.status == 400, reply.body
    assert reply.is_problem, reply.body
    assert reply.body["code"] == "validation_error"
    assert reply.body["errors"]
    assert not admin.sink.sent
    assert not admin.timeline


def test_refusals_are_problems_with_their_status(admin: Admin) -> None:
    unknown = status_of(admin, "XYZ-USD", {"status": "HALTED", "reason": REASON})
    assert (unknown.status, unknown.body["code"]) == (404, "unknown_symbol")
    account = call(
        admin,
        "POST",
        "/v1/admin/accounts/mallory/freeze",
        resource="/v1/admin/accounts/{account_id}/freeze",
        params={"account_id": "mallory"},
        body={"reason": REASON},
    )
    assert (account.status, account.body["code"]) == (404, "unknown_account")
    kill = call(
        admin, "POST", "/v1/admin/kill-switch", body={"status": "POST_ONLY", "reason": REASON}
    )
    assert kill.status == 400  # the kill switch's statuses are the schema's
    immutable = put_instrument(admin, "BTC-USD", {"tick_size": "0.1"})
    assert (immutable.status, immutable.body["code"]) == (409, "immutable_field")
    conflict = put_instrument(admin, "ACME-USD", {}, version=3)
    assert (conflict.status, conflict.body["code"]) == (409, "version_conflict")
    asset = put_instrument(admin, "DOGE-USD", {"base": "DOGE"})
    assert (asset.status, asset.body["code"]) == (422, "unknown_asset")
    invalid = put_instrument(admin, "ACME-USD", {"min_qty": "0"})
    assert (invalid.status, invalid.body["code"]) == (422, "invalid_instrument")
    assert all(r.is_problem for r in (unknown, account, immutable, conflict, asset, invalid))
    assert not admin.sink.sent


def put_instrument(admin: Admin, symbol: str, change: dict[str, Any], **extra: Any) -> Reply:
    base = (
        ACME
        if symbol.startswith("ACME") or symbol.startswith("DOGE")
        else (admin.catalog.get(symbol).model_dump(mode="json", exclude={"status"}))
    )
    return call(
        admin,
        "PUT",
        f"/v1/admin/instruments/{symbol}",
        resource="/v1/admin/instruments/{symbol}",
        params={"symbol": symbol},
        body={"instrument": {**base, **change}, "reason": REASON, **extra},
    )


def test_a_listing_answers_its_version_and_a_failed_publish_is_503_then_retried(
    admin: Admin,
) -> None:
    admin.sink.script = ["refused"]
    failed = put_instrument(admin, "ACME-USD", {})
    assert (failed.status, failed.body["code"]) == (503, "listing_not_published")
    assert "version 1 of ACME-USD is stored" in failed.body["detail"]
    retried = put_instrument(admin, "ACME-USD", {})
    assert retried.status == 202, retried.body
    assert retried.body["republished"] is True
    assert retried.body["listing"]["version"] == 1
    assert retried.body["listing"]["shard"] == "s2"
    assert retried.body["command"]["command_id"] == "list:ACME-USD:1"
    assert retried.body["listing"]["instrument"]["asset_class"] == "EQUITY"


def test_when_no_command_could_be_sent_the_answer_is_503(admin: Admin) -> None:
    admin.sink.fail = True
    reply = call(
        admin, "POST", "/v1/admin/kill-switch", body={"status": "HALTED", "reason": REASON}
    )
    assert (reply.status, reply.body["code"]) == (503, "broker_unavailable")
    admin.sink.fail = False
    admin.sink.script = ["ok", "refused", "ok"]
    partial = call(
        admin, "POST", "/v1/admin/kill-switch", body={"status": "HALTED", "reason": REASON}
    )
    assert partial.status == 202
    assert partial.body["complete"] is False
    assert [c["outcome"] for c in partial.body["commands"]] == ["queued", "not_sent", "queued"]


def test_freeze_reads_and_the_audit_log(admin: Admin) -> None:
    frozen = call(
        admin,
        "POST",
        "/v1/admin/accounts/alice/freeze",
        resource="/v1/admin/accounts/{account_id}/freeze",
        params={"account_id": "alice"},
        body={"reason": "AML hold, case 7"},
    )
    assert frozen.status == 202, frozen.body
    assert (frozen.body["account_id"], frozen.body["frozen"], frozen.body["changed"]) == (
        "alice",
        True,
        True,
    )
    assert len(frozen.body["commands"]) == 3
    markets = call(admin, "GET", "/v1/admin/markets")
    assert [m["symbol"] for m in markets.body["markets"]] == ["BTC-USD", "ETH-USD", "SOL-USD"]
    assert markets.body["markets"][0]["status"] == "TRADING"
    assert markets.body["markets"][0]["version"] == 1
    detail = call(
        admin,
        "GET",
        "/v1/admin/instruments/ETH-USD",
        resource="/v1/admin/instruments/{symbol}",
        params={"symbol": "ETH-USD"},
    )
    assert detail.body["listing"]["instrument"]["tick_size"] == "0.01"
    assert [v["version"] for v in detail.body["history"]] == [1]
    audit = call(admin, "GET", "/v1/admin/audit", query={"limit": "5"})
    assert audit.status == 200
    assert audit.body["verified"] is True
    (entry,) = audit.body["entries"]
    assert entry["kind"] == "admin_account_frozen"
    assert entry["operator"] == {"username": "olga", "sub": OLGA.sub}
    assert entry["reason"] == "AML hold, case 7"
    assert entry["request_id"] == "req-9"
    assert entry["details"]["account_id"] == "alice"
    assert entry["time"].startswith("2026-01-01T00:00:00")
    bad = call(admin, "GET", "/v1/admin/audit", query={"limit": "0"})
    assert bad.status == 400


def test_a_dividend_is_declared_and_listed(admin: Admin) -> None:
    assert put_instrument(admin, "ACME-USD", {}).status == 202
    record = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    body = {
        "symbol": "ACME-USD",
        "amount_per_unit": "0.25",
        "record_time": record.isoformat(),
        "pay_time": (record + dt.timedelta(minutes=10)).isoformat(),
        "issuer_account_id": "issuer",
        "dividend_id": "div_q1",
        "reason": "Q1 dividend",
    }
    declared = call(admin, "POST", "/v1/admin/dividends", body=body)
    assert declared.status == 201, declared.body
    assert Decimal(declared.body["amount_per_unit"]) == Decimal("0.25")
    assert declared.body["status"] == "DECLARED"
    assert declared.body["asset"] == "USD"
    again = call(admin, "POST", "/v1/admin/dividends", body=body)
    assert again.status == 201
    assert again.body["dividend_id"] == "div_q1"
    conflict = call(admin, "POST", "/v1/admin/dividends", body={**body, "amount_per_unit": "0.3"})
    assert (conflict.status, conflict.body["code"]) == (409, "dividend_conflict")
    crypto = call(admin, "POST", "/v1/admin/dividends", body={**body, "symbol": "BTC-USD"})
    assert (crypto.status, crypto.body["code"]) == (422, "not_an_equity")
    float_amount = call(
        admin, "POST", "/v1/admin/dividends", body={**body, "amount_per_unit": 0.25}
    )
    assert float_amount.status == 400
    listed = call(admin, "GET", "/v1/admin/dividends", query={"symbol": "ACME-USD"})
    assert [d["dividend_id"] for d in listed.body["dividends"]] == ["div_q1"]
