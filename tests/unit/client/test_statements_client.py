"""The client's statement methods and ``exchange transactions``, over real HTTP: a tiny server
hands each request to the account function's handler (statements over the in-memory fake), so
the client pages, sums and downloads what the real routes answer."""

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from exchange.ledger.statements import MovementKind
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from exchange.testing.statements import InMemoryStatements
from exchange_client import ClientConfig, ExchangeClient, cli
from exchange_client.http import Transport
from lambdas.account.handler import handler as account_handler
from tests.unit.api.conftest import handler_settings  # noqa: F401 - autouse

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
ALICE = "alice-sub"
START = datetime(2026, 12, 1, tzinfo=UTC)


def statements() -> InMemoryStatements:
    """Alice's ten lines: deposits, trades, fees, a rebate, a withdrawal, in two assets."""
    fake = InMemoryStatements()
    fake._init_statements()
    fake.accounts = {ALICE: None}
    moves = [
        ("USD", MovementKind.DEPOSIT, "1000"),
        ("USD", MovementKind.TRADE, "-650"),
        ("BTC", MovementKind.TRADE, "0.01"),
        ("USD", MovementKind.FEE, "-0.33"),
        ("USD", MovementKind.DEPOSIT, "5,000"),
        ("BTC", MovementKind.TRADE, "-0.005"),
        ("USD", MovementKind.TRADE, "330"),
        ("USD", MovementKind.REBATE, "0.01"),
        ("USD", MovementKind.WITHDRAWAL, "-100"),
        ("BTC", MovementKind.DEPOSIT, "1"),
    ]
    for n, (asset, kind, amount) in enumerate(moves):
        fake._record_line(
            ALICE, asset, kind, Decimal(amount.replace(",", "")), f'ref-{n},"{amount}"',
            at=START + timedelta(minutes=n),
        )  # fmt: skip
    return fake


def with_api(scenario: Callable[[ExchangeClient], Awaitable[None]]) -> None:
    fake = statements()

    async def forward(request: web.Request) -> web.Response:
        event = rest_event(
            request.method, request.path, query=dict(request.query), account_id=ALICE
        )
        answer = account_handler(event, LambdaContextStub(), services=[fake])
        headers = {k: v[0] for k, v in answer["multiValueHeaders"].items()}
        content_type = headers.pop("Content-Type")
        return web.Response(
            status=answer["statusCode"],
            text=answer["body"],
            content_type=content_type.split(";")[0],
            headers=headers,
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/v1/transactions", forward)
        app.router.add_get("/v1/transactions/csv", forward)
        server = TestServer(app)
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        client = ExchangeClient(ClientConfig(api_url=base, ws_url="", app_client_id="c"))

        async def token() -> str:
            return "token-1"

        client.http = Transport(base, token=token)
        try:
            await scenario(client)
        finally:
            await client.close()
            await server.close()

    asyncio.run(main())


def test_transactions_all_pages_to_the_end_and_the_totals_are_the_sums() -> None:
    async def scenario(client: ExchangeClient) -> None:
        # When every line is read, three per page
        lines = await client.transactions_all(page_size=3)
        # Then each comes once, oldest first, with the running balance
        assert [line.tx_id for line in lines] == list(range(1, 11))
        assert lines[-2].balance_after == Decimal("5579.68")
        assert lines[-1].balance_after == Decimal("1.005")
        assert await client.statement_totals() == {
            "BTC": Decimal("1.005"),
            "USD": Decimal("5579.68"),
        }
        # And one page, newest first, of one asset, with its cursor
        page = await client.transactions("BTC", limit=2)
        assert [line.amount for line in page.transactions] == [Decimal("1"), Decimal("-0.005")]
        assert page.next_cursor is not None
        rest = await client.transactions("BTC", limit=2, cursor=page.next_cursor)
        assert [line.amount for line in rest.transactions] == [Decimal("0.01")]
        assert rest.next_cursor is None

    with_api(scenario)


def test_transactions_csv_is_the_range_as_text() -> None:
    async def scenario(client: ExchangeClient) -> None:
        text = await client.transactions_csv(start=START + timedelta(minutes=8))
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows[0][:5] == ["tx_id", "at", "kind", "asset", "amount"]
        assert [(row[2], row[4], row[6]) for row in rows[1:]] == [
            ("WITHDRAWAL", "-100", 'ref-8,"-100"'),
            ("DEPOSIT", "1", 'ref-9,"1"'),
        ]

    with_api(scenario)


# -- the command ----------------------------------------------------------------------------------
class FakeHttp:
    """Answers by path; records what it was asked."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.sent: list[dict[str, Any]] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.sent.append({"method": method, "path": path, **kwargs})
        return self.answers[path]

    async def close(self) -> None:
        return None


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> FakeHttp:
    line = {"tx_id": 1, "at": "2026-12-01T00:00:00.000Z", "kind": "DEPOSIT", "asset": "USD",
            "amount": "10.00", "balance_after": "10.00", "reference": "dep-1"}  # fmt: skip
    fake = FakeHttp({
        "/v1/transactions": {"transactions": [line], "next_cursor": None},
        "/v1/transactions/csv": "tx_id,at\r\n1,2026-12-01T00:00:00.000Z\r\n",
    })  # fmt: skip

    async def signed_in(args: Any, *, token_only: bool = False) -> ExchangeClient:
        client = ExchangeClient(ClientConfig(api_url="http://x", ws_url="", app_client_id="c"))
        client.http = fake  # type: ignore[assignment]
        return client

    monkeypatch.setattr(cli, "_client", signed_in)
    return fake


def test_exchange_transactions_csv_writes_the_file_exactly(
    http: FakeHttp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "statement.csv"
    code = cli.main(["transactions", "--asset", "USD", "--start", "2026-12-01T00:00:00Z",
                     "--csv", str(target)])  # fmt: skip
    assert code == 0
    assert target.read_bytes() == b"tx_id,at\r\n1,2026-12-01T00:00:00.000Z\r\n"
    assert http.sent[0]["path"] == "/v1/transactions/csv"
    assert http.sent[0]["params"]["asset"] == "USD"
    assert http.sent[0]["params"]["start"] == "2026-12-01T00:00:00.000Z"
    assert http.sent[0]["as_text"] is True
    assert "wrote 1 lines" in capsys.readouterr().out


def test_exchange_transactions_prints_the_latest_page(
    http: FakeHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["transactions", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "DEPOSIT" in out
    assert "dep-1" in out
    assert http.sent[0]["params"]["limit"] == 5


def test_a_time_without_an_offset_is_refused(http: FakeHttp) -> None:
    with pytest.raises(SystemExit):
        cli.main(["transactions", "--start", "2026-12-01T00:00:00"])
    assert http.sent == []
