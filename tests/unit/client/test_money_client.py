"""The client's money-out and notification methods and their ``exchange`` commands: what each
sends (method, path, body, Idempotency-Key, which credential) and how it reads the answer. The
transport is a fake that records what it is asked and answers what the test says."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchange_client import ApiError, ClientConfig, ExchangeClient, cli

DESTINATION = {
    "destination_id": "dst-1",
    "asset": "USD",
    "kind": "BANK",
    "address": "GB82WEST12345698765432",
    "label": "my bank",
    "status": "PENDING",
    "created_at": "2026-12-06T10:00:00.000Z",
    "usable_at": "2026-12-07T10:00:00.000Z",
    "removed_at": None,
}
WITHDRAWAL = {
    "withdrawal_id": "wd-1",
    "asset": "USD",
    "amount": "250.5",
    "status": "PENDING",
    "destination_id": "dst-1",
    "attempts": 0,
    "failure_reason": None,
    "created_at": "2026-12-07T10:00:01.000Z",
    "updated_at": "2026-12-07T10:00:01.000Z",
}
PREFERENCES = {"email": {"FILL": False, "DEPOSIT": True, "WITHDRAWAL": True, "SECURITY": True}}


class FakeHttp:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Any] = {}
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
    fake = FakeHttp()

    async def signed_in(args: Any, *, token_only: bool = False) -> ExchangeClient:
        fake.sent.append({"client": "token" if token_only else "token or key"})
        client = ExchangeClient(ClientConfig(api_url="http://x", ws_url="", app_client_id="c"))
        client.http = fake  # type: ignore[assignment]
        return client

    monkeypatch.setattr(cli, "_client", signed_in)
    return fake


def requests(http: FakeHttp) -> list[dict[str, Any]]:
    return [sent for sent in http.sent if "client" not in sent]


def credentials(http: FakeHttp) -> list[str]:
    return [sent["client"] for sent in http.sent if "client" in sent]


def test_destinations_add_sends_a_fresh_key_with_the_token_and_prints_when_usable(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API adds the destination
    http.answers[("POST", "/v1/withdrawal-destinations")] = DESTINATION
    # When the user adds a bank account twice (two separate intents)
    assert cli.main(["destinations", "add", "USD", "GB82 WEST 1234", "--kind", "BANK"]) == 0
    assert cli.main(["destinations", "add", "USD", "GB82 WEST 1234", "--kind", "BANK"]) == 0
    # Then each carries its own Idempotency-Key, takes the token only, and says when it is usable
    first, second = requests(http)
    assert first["body"] == {
        "asset": "USD",
        "kind": "BANK",
        "address": "GB82 WEST 1234",
        "label": "USD bank",
    }
    assert first["token_only"] is True
    assert first["idempotency_key"] != second["idempotency_key"]
    assert credentials(http) == ["token", "token"]
    assert "PENDING dst-1 usable from 2026-12-07T10:00:00+00:00" in capsys.readouterr().out


def test_destinations_list_and_remove(http: FakeHttp, capsys: pytest.CaptureFixture[str]) -> None:
    http.answers[("GET", "/v1/withdrawal-destinations")] = {"destinations": [DESTINATION]}
    http.answers[("DELETE", "/v1/withdrawal-destinations/dst-1")] = {
        **DESTINATION,
        "status": "REMOVED",
    }
    assert cli.main(["destinations"]) == 0
    assert cli.main(["destinations", "remove", "dst-1"]) == 0
    listed, removed = requests(http)
    assert (listed["method"], removed["method"]) == ("GET", "DELETE")
    assert all(sent["token_only"] for sent in (listed, removed))
    out = capsys.readouterr().out
    assert "GB82WEST12345698765432" in out
    assert "my bank" in out
    assert "removed dst-1" in out


def test_withdraw_names_the_destination_and_may_sign_with_a_key(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    http.answers[("POST", "/v1/withdrawals")] = WITHDRAWAL
    assert cli.main(["withdraw", "USD", "250.50", "--destination", "dst-1"]) == 0
    (sent,) = requests(http)
    assert sent["body"] == {"asset": "USD", "amount": "250.50", "destination_id": "dst-1"}
    assert sent["idempotency_key"]
    assert "token_only" not in sent
    assert credentials(http) == ["token or key"]
    assert capsys.readouterr().out.strip() == "PENDING wd-1"


def test_withdraw_without_a_destination_is_a_usage_error(http: FakeHttp) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["withdraw", "USD", "250"])
    assert exited.value.code == 2
    assert requests(http) == []


def test_withdrawals_list_show_and_cancel(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = {**WITHDRAWAL, "withdrawal_id": "wd-2", "status": "FAILED",
              "failure_reason": "provider refused"}  # fmt: skip
    http.answers[("GET", "/v1/withdrawals")] = {"withdrawals": [failed, WITHDRAWAL]}
    http.answers[("GET", "/v1/withdrawals/wd-2")] = failed
    http.answers[("DELETE", "/v1/withdrawals/wd-1")] = {**WITHDRAWAL, "status": "CANCELLED"}
    assert cli.main(["withdrawals"]) == 0
    assert cli.main(["withdrawals", "show", "wd-2"]) == 0
    assert cli.main(["withdrawals", "cancel", "wd-1"]) == 0
    assert [(s["method"], s["path"]) for s in requests(http)] == [
        ("GET", "/v1/withdrawals"),
        ("GET", "/v1/withdrawals/wd-2"),
        ("DELETE", "/v1/withdrawals/wd-1"),
    ]
    out = capsys.readouterr().out
    assert "provider refused" in out
    assert out.strip().endswith("CANCELLED wd-1")


def test_a_cancel_of_a_sent_withdrawal_prints_the_problem_and_exits_1(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = {"title": "Conflict", "detail": "withdrawal wd-1 is SENDING",
               "code": "withdrawal_not_cancellable"}  # fmt: skip
    http.answers[("DELETE", "/v1/withdrawals/wd-1")] = ApiError(409, problem)
    assert cli.main(["withdrawals", "cancel", "wd-1"]) == 1
    assert "409 Conflict: withdrawal wd-1 is SENDING" in capsys.readouterr().err


def test_notifications_show_reads_and_set_sends_one_kind_with_the_token(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    http.answers[("GET", "/v1/account/notifications")] = PREFERENCES
    http.answers[("PUT", "/v1/account/notifications")] = {
        "email": {**PREFERENCES["email"], "FILL": True}
    }
    assert cli.main(["notifications"]) == 0
    assert cli.main(["notifications", "set", "fill", "on"]) == 0
    shown, put = requests(http)
    assert (shown["method"], "token_only" in shown) == ("GET", False)
    assert put["body"] == {"email": {"FILL": True}}
    assert put["token_only"] is True
    assert credentials(http) == ["token or key", "token"]
    fill_rows = [line.split() for line in capsys.readouterr().out.splitlines() if "FILL" in line]
    assert fill_rows == [["FILL", "off"], ["FILL", "on"]]


def test_notifications_set_refuses_an_unknown_kind(http: FakeHttp) -> None:
    with pytest.raises(SystemExit):
        cli.main(["notifications", "set", "MARKETING", "on"])
    assert requests(http) == []


def test_the_methods_read_typed_values(http: FakeHttp) -> None:
    import asyncio  # noqa: PLC0415

    http.answers[("GET", "/v1/withdrawals/wd-1")] = WITHDRAWAL
    http.answers[("GET", "/v1/withdrawal-destinations")] = [DESTINATION]

    async def scenario() -> None:
        client = ExchangeClient(ClientConfig(api_url="http://x", ws_url="", app_client_id="c"))
        client.http = http  # type: ignore[assignment]
        withdrawal = await client.get_withdrawal("wd-1")
        assert (withdrawal.amount, withdrawal.is_final) == (Decimal("250.5"), False)
        assert withdrawal.created_at == datetime(2026, 12, 7, 10, 0, 1, tzinfo=UTC)
        (destination,) = await client.destinations()
        assert destination.usable_at == datetime(2026, 12, 7, 10, tzinfo=UTC)
        with pytest.raises(TypeError):
            await client.withdraw("USD", 0.1, destination_id="dst-1")  # type: ignore[arg-type]

    asyncio.run(scenario())
