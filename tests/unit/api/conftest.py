"""Unit-test wiring of the REST handlers: the real handlers and logic over in-memory fakes."""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from exchange.domain import InstrumentCatalog
from exchange.ledger.accounts import AccountService
from exchange.ledger.deposits import DepositReceiver
from exchange.ledger.model import KycStatus
from exchange.market.service import MarketService
from exchange.orders.cancel_after import DeadMansSwitch, SwitchTrigger
from exchange.orders.idempotency import IdempotentRunner
from exchange.orders.mass_cancel import MassCancel
from exchange.orders.service import OrderService
from exchange.payouts.queue import InMemoryPayoutQueue
from exchange.payouts.webhooks import PayoutWebhookReceiver
from exchange.payouts.withdrawals import WithdrawalService
from exchange.testing.fakes import (
    InMemoryCommandSink,
    InMemoryLedger,
    InMemoryMarketStore,
    InMemoryOrderKeys,
    InMemoryOrderStore,
)
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from exchange.testing.stores import InMemoryBookStore, InMemoryIdempotencyStore
from tests.unit.orders.fakes import InMemoryOrderLookup, InMemorySwitchStore, InMemoryTimerQueue

ALICE, BOB = "alice-sub", "bob-sub"
MAKER = "maker-sub"  # flagged a market maker: may send stp NONE
WEBHOOK_SECRET = b"whsec-unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Read-only routes emit no metric; Powertools warns about that on every flush.
    for item in items:
        item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics to publish"))


@pytest.fixture(autouse=True)
def handler_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handlers read their settings once; a database URL makes the ledger settings valid
    (the fakes never connect). Set per test, so no other test sees it."""
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")


@dataclass
class Exchange:
    """The fakes behind the four functions, and a way to call each handler."""

    catalog: InstrumentCatalog
    ledger: InMemoryLedger
    store: InMemoryOrderStore
    keys: InMemoryOrderKeys
    sink: InMemoryCommandSink
    idempotency: InMemoryIdempotencyStore
    books: InMemoryBookStore
    market_store: InMemoryMarketStore
    orders: OrderService
    accounts: AccountService
    markets: MarketService
    deposits: DepositReceiver
    payouts: PayoutWebhookReceiver
    payout_queue: InMemoryPayoutQueue
    withdrawals: WithdrawalService

    def account_services(self) -> list[object]:
        """What the account function's routes look up: the ledger serves the notification
        preferences (and whatever else it is a port of)."""
        return [self.accounts, self.withdrawals, self.ledger]

    def call(self, method: str, path: str, **kwargs: Any) -> "Reply":
        from tests.unit.api.gateway import invoke  # noqa: PLC0415

        return invoke(self, rest_event(method, path, **kwargs))


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any

    @classmethod
    def of(cls, response: Mapping[str, Any]) -> "Reply":
        headers = {k: v[0] for k, v in response.get("multiValueHeaders", {}).items()}
        text = response.get("body") or ""
        return cls(int(response["statusCode"]), headers, json.loads(text) if text else None)

    @property
    def is_problem(self) -> bool:
        return self.headers.get("Content-Type") == "application/problem+json" and all(
            k in self.body for k in ("type", "title", "status", "detail")
        )


def make_exchange(max_open_orders: int = 200, catalog: InstrumentCatalog | None = None) -> Exchange:
    catalog = catalog or InstrumentCatalog.demo()
    ledger = InMemoryLedger(catalog)
    for account in (ALICE, BOB, MAKER):
        ledger.open_account(account, kyc_status=KycStatus.VERIFIED)
        ledger.fund(account, "USD", Decimal("1000000"))
        ledger.fund(account, "BTC", Decimal("10"))
    store, sink, idempotency = (
        InMemoryOrderStore(),
        InMemoryCommandSink(),
        InMemoryIdempotencyStore(),
    )
    books, market_store, keys = InMemoryBookStore(), InMemoryMarketStore(), InMemoryOrderKeys()
    lookup, switches = InMemoryOrderLookup(store), InMemorySwitchStore()
    accounts, payout_queue = AccountService(ledger=ledger, directory=ledger), InMemoryPayoutQueue()
    mass_cancel = MassCancel(lookup=lookup, sink=sink, limit=max_open_orders)
    return Exchange(
        catalog=catalog,
        ledger=ledger,
        store=store,
        keys=keys,
        sink=sink,
        idempotency=idempotency,
        books=books,
        market_store=market_store,
        orders=OrderService(
            instruments=catalog,
            store=store,
            keys=keys,
            ledger=ledger,
            sink=sink,
            idempotency=IdempotentRunner(idempotency),
            max_open_orders=max_open_orders,
            market_makers=frozenset({MAKER}),
            lookup=lookup,
            cancel_after=DeadMansSwitch(
                switches=switches,
                timers=InMemoryTimerQueue(),
                trigger=SwitchTrigger(switches=switches, mass_cancel=mass_cancel),
                min_seconds=5,
                max_seconds=900,
            ),
        ),
        accounts=accounts,
        markets=MarketService(instruments=catalog, books=books, store=market_store),
        deposits=DepositReceiver(ledger=ledger, secrets=lambda: [WEBHOOK_SECRET]),
        payouts=PayoutWebhookReceiver(ledger=ledger, secrets=lambda: [WEBHOOK_SECRET]),
        payout_queue=payout_queue,
        withdrawals=WithdrawalService(
            accounts=accounts,
            withdrawals=ledger,
            queue=payout_queue,
            destination_delay=timedelta(0),  # a new destination is usable at once here
        ),
    )


@pytest.fixture
def exchange() -> Exchange:
    return make_exchange()


@pytest.fixture
def context() -> LambdaContextStub:
    return LambdaContextStub()


LIMIT_BUY: dict[str, Any] = {
    "symbol": "BTC-USD",
    "side": "BUY",
    "order_type": "LIMIT",
    "qty": "0.5",
    "price": "65000.00",
}


@pytest.fixture
def place(exchange: Exchange) -> Callable[..., Reply]:
    def place(body: Mapping[str, Any] | None = None, account: str = ALICE, **kwargs: Any) -> Reply:
        return exchange.call(
            "POST", "/v1/orders", body=dict(body or LIMIT_BUY), account_id=account, **kwargs
        )

    return place
