"""Property: whatever users do, the money path keeps every account's money exact.

Random sequences of place (limit, IOC, market, stop, stop-limit), amend (up and down), and
cancel, from three accounts with small balances, go through the orders logic
(``OrderService``: validation, claims, holds, amend holds, protection prices), the real matching
engine (``engine_service.core.Engine``) and settlement on the real PostgreSQL ledger
(``PostgresLedger.apply_events``, what the settlement consumer calls), in process. Afterwards
every open order is cancelled, and:

- settlement never raised (it would halt the symbol in AWS);
- no balance is negative, and nothing is left held once every order is final;
- for each account and asset, available + held equals what it deposited, plus what it received,
  minus what it paid and its fees (computed here from the engine's trades, independently of the
  ledger's own arithmetic);
- the fee account holds exactly the fees the orders were charged.
"""

import itertools
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from aws_lambda_powertools.utilities.typing import LambdaContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace
from psycopg_pool import ConnectionPool

from engine_service.core import Engine
from exchange.domain import (
    Event,
    InstrumentCatalog,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from exchange.domain.errors import ExchangeError
from exchange.ledger import KycStatus, LedgerInconsistency
from exchange.ledger.money import ceil_to, fee_exact, notional
from exchange.ledger.postgres import PostgresLedger
from exchange.orders.idempotency import IdempotentRunner
from exchange.orders.model import OrderRequest
from exchange.orders.service import OrderService
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.testing.fakes import InMemoryCommandSink, InMemoryOrderKeys, InMemoryOrderStore
from exchange.testing.lambda_events import LambdaContextStub
from exchange.testing.stores import InMemoryIdempotencyStore
from tests.unit.ledger.helpers import fund

CATALOG = InstrumentCatalog.demo()
SYMBOL = "BTC-USD"
BTC = CATALOG.get(SYMBOL)
REFERENCE = BTC.price_to_ticks(BTC.reference_price or Decimal("65000"))
DEPOSITS = {"USD": Decimal("3000"), "BTC": Decimal("0.05")}
ACCOUNTS = 3
SEQ_BASES = itertools.count(10**12, 10**7)
# What Powertools reads of a Lambda context (the stub has it all); typed as the real one.
CONTEXT = cast(LambdaContext, LambdaContextStub(function_name="orders", timeout_seconds=3600))


@dataclass(frozen=True)
class Place:
    account: int
    side: Side
    kind: OrderType
    tif: TimeInForce
    offset: int  # how aggressive the limit is: steps of 50 ticks towards the other side
    stop_offset: int
    lots: int


@dataclass(frozen=True)
class Amend:
    account: int
    pick: int
    price_step: int  # steps of 50 ticks; 0 keeps the price
    lots: int  # the new total quantity


@dataclass(frozen=True)
class Cancel:
    account: int
    pick: int


Action = Place | Amend | Cancel

places = st.builds(
    Place,
    account=st.integers(0, ACCOUNTS - 1),
    side=st.sampled_from(Side),
    kind=st.sampled_from(
        [OrderType.LIMIT, OrderType.LIMIT, OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT]
    ),
    tif=st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC]),
    offset=st.integers(-3, 6),
    stop_offset=st.integers(-10, 10),
    lots=st.integers(1, 400),
)
amends = st.builds(
    Amend,
    account=st.integers(0, ACCOUNTS - 1),
    pick=st.integers(0, 50),
    price_step=st.integers(-6, 6),
    lots=st.integers(1, 600),
)
cancels = st.builds(Cancel, account=st.integers(0, ACCOUNTS - 1), pick=st.integers(0, 50))
# Mostly placements, so the book fills and crosses; amends and cancels act on open orders.
action: st.SearchStrategy[Action] = st.integers(0, 9).flatmap(
    lambda n: places if n < 6 else amends if n < 8 else cancels
)
actions = st.lists(action, min_size=6, max_size=40)


class Exchange:
    """The orders logic, the engine and settlement, wired as in AWS but in one process."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.ledger = PostgresLedger(
            pool,
            instruments=CATALOG,
            asset_scales=DEFAULT_ASSET_SCALES,
            fee_account_id=f"fees-{uuid.uuid4().hex[:12]}",
        )
        self.ledger.bootstrap()
        self.store = InMemoryOrderStore()
        self.sink = InMemoryCommandSink()
        self.orders = OrderService(
            instruments=CATALOG,
            store=self.store,
            keys=InMemoryOrderKeys(),
            ledger=self.ledger,
            sink=self.sink,
            idempotency=IdempotentRunner(InMemoryIdempotencyStore()),
        )
        self.engine = Engine([BTC])
        self.accounts = [f"acct-{uuid.uuid4().hex[:12]}" for _ in range(ACCOUNTS)]
        for account in self.accounts:
            self.ledger.open_account(account, kyc_status=KycStatus.VERIFIED)
            for asset, amount in DEPOSITS.items():
                fund(self.ledger, account, asset, str(amount))
        self.owner: dict[str, str] = {}
        self.open: dict[str, int] = {}  # order id -> open lots, as the engine reports
        self.trades: list[Trade] = []
        self.sent = 0
        self.seq_base = next(SEQ_BASES)

    # -- what the API, the engine and the consumers do ------------------------------------------
    def run(self, action: Action) -> None:
        try:
            self._call(action)
        except LedgerInconsistency:
            raise
        except ExchangeError:
            pass  # refused: insufficient funds, out of band, no reference, ... nothing written
        self.drain()

    def _call(self, action: Action) -> None:
        account = self.accounts[action.account]
        if isinstance(action, Place):
            self._place(account, action)
            return
        mine = sorted(o for o, owner in self.owner.items() if owner == account and o in self.open)
        if not mine:
            return
        order_id = mine[action.pick % len(mine)]
        if isinstance(action, Cancel):
            self.orders.cancel(account, order_id, idempotency_key=uuid.uuid4().hex, context=CONTEXT)
            return
        order = self.orders.get(account, order_id)
        price = None
        if order.price is not None and action.price_step:
            price = str(Decimal(order.price) + Decimal(action.price_step) / 2)
        qty = str(BTC.lots_to_qty(action.lots))
        self.orders.amend(
            account,
            order_id,
            price=price,
            qty=qty,
            idempotency_key=uuid.uuid4().hex,
            context=CONTEXT,
        )

    def _place(self, account: str, action: Place) -> None:
        price = stop = None
        if action.kind in {OrderType.LIMIT, OrderType.STOP_LIMIT}:
            towards = 1 if action.side is Side.BUY else -1
            price = BTC.format_price(REFERENCE + towards * action.offset * 50)
        if action.kind in {OrderType.STOP, OrderType.STOP_LIMIT}:
            above = action.side is Side.BUY
            stop = BTC.format_price(
                REFERENCE + (abs(action.stop_offset) + 1) * 50 * (1 if above else -1)
            )
        tif = TimeInForce.IOC if action.kind is OrderType.MARKET else action.tif
        if action.kind in {OrderType.STOP, OrderType.STOP_LIMIT}:
            tif = TimeInForce.GTC
        accepted = self.orders.place(
            account,
            OrderRequest(
                symbol=SYMBOL,
                side=action.side,
                order_type=action.kind,
                qty=str(BTC.lots_to_qty(action.lots)),
                tif=tif,
                price=price,
                stop_price=stop,
            ),
            idempotency_key=uuid.uuid4().hex,
            context=CONTEXT,
        )
        self.owner[accepted.order_id] = account

    def drain(self) -> None:
        """The engine takes what was published, settlement applies its events."""
        while self.sent < len(self.sink.commands):
            command = self.sink.commands[self.sent]
            self.sent += 1
            # Each example has an engine of its own but shares the database, whose ledger is
            # idempotent on (symbol, seq): move this example's seqs into a range of their own.
            events = [
                replace(e, seq=e.seq + self.seq_base) for e in self.engine.apply(command) if e.seq
            ]
            if events:
                self.ledger.apply_events(events)  # must never raise
                self._record(events)

    def _record(self, events: list[Event]) -> None:
        """The part of the recorder the orders logic reads: statuses and the last trade."""
        for event in events:
            if isinstance(event, OrderAccepted):
                self.open[event.order_id] = event.qty
                self._status(event.order_id, OrderStatus.NEW)
            elif isinstance(event, Trade):
                self.trades.append(event)
                self.store.trade_rows[SYMBOL].append(
                    (BTC.format_price(event.price), BTC.format_qty(event.qty))
                )
                for order_id in (event.maker_order_id, event.taker_order_id):
                    if order_id in self.open:
                        self.open[order_id] -= event.qty
                        if self.open[order_id] <= 0:
                            self._final(order_id, OrderStatus.FILLED)
            elif isinstance(event, OrderAmended):
                self.open[event.order_id] = event.open_qty
            elif isinstance(event, OrderCancelled | OrderExpired):
                self._final(event.order_id, OrderStatus.CANCELLED)
            elif isinstance(event, OrderRejected) and event.command_id is None:
                self._final(event.order_id, OrderStatus.REJECTED)

    def _status(self, order_id: str, status: OrderStatus) -> None:
        account = self.owner.get(order_id)
        if account is not None and (account, order_id) in self.store.orders:
            self.store.set_status(account, order_id, status)

    def _final(self, order_id: str, status: OrderStatus) -> None:
        self.open.pop(order_id, None)
        self._status(order_id, status)

    def close_everything(self) -> None:
        for order_id in sorted(self.open):
            self.orders.cancel(
                self.owner[order_id], order_id, idempotency_key=uuid.uuid4().hex, context=CONTEXT
            )
            self.drain()

    # -- what the books must say ----------------------------------------------------------------
    def expected(self) -> tuple[dict[tuple[str, str], Decimal], Decimal]:
        """Each account's money from deposits and trades alone, and the fees charged."""
        money: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for account in self.accounts:
            for asset, amount in DEPOSITS.items():
                money[(account, asset)] += amount
        exact_fees: dict[str, Decimal] = defaultdict(Decimal)
        payer: dict[str, str] = {}
        for trade in self.trades:
            value = notional(BTC, price_ticks=trade.price, qty_lots=trade.qty)
            qty = BTC.lots_to_qty(trade.qty)
            buyer, seller = (
                (trade.taker_account_id, trade.maker_account_id)
                if trade.aggressor_side is Side.BUY
                else (trade.maker_account_id, trade.taker_account_id)
            )
            money[(buyer, "BTC")] += qty
            money[(buyer, "USD")] -= value
            money[(seller, "BTC")] -= qty
            money[(seller, "USD")] += value
            exact_fees[trade.maker_order_id] += fee_exact(value, BTC.maker_fee_bps)
            exact_fees[trade.taker_order_id] += fee_exact(value, BTC.taker_fee_bps)
            payer[trade.maker_order_id] = trade.maker_account_id
            payer[trade.taker_order_id] = trade.taker_account_id
        charged = Decimal(0)
        for order_id, exact in exact_fees.items():
            fee = ceil_to(exact, DEFAULT_ASSET_SCALES["USD"])  # no rebates on the demo book
            money[(payer[order_id], "USD")] -= fee
            charged += fee
        return money, charged


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(flow=actions)
def test_random_order_flow_settles_and_every_account_keeps_its_money_exactly(
    pool: ConnectionPool, flow: list[Action]
) -> None:
    # Given three verified accounts with small balances
    exchange = Exchange(pool)
    # When they place, amend and cancel at random, and everything still open is cancelled
    for action in flow:
        exchange.run(action)
    exchange.close_everything()
    # Then nothing is left held, nothing is negative, and each account's money is exactly what
    # its deposits and trades say
    expected, fees = exchange.expected()
    for account in exchange.accounts:
        balances = {b.asset: b for b in exchange.ledger.balances(account)}
        for asset in DEPOSITS:
            balance = balances[asset]
            assert balance.available >= 0, (account, asset, balance)
            assert balance.held == 0, (account, asset, balance, exchange.open)
            assert balance.available + balance.held == expected[(account, asset)], (
                account,
                asset,
                balance,
                expected[(account, asset)],
            )
    fee_balances = {b.asset: b for b in exchange.ledger.balances(exchange.ledger.fee_account_id)}
    charged = fee_balances["USD"].available if "USD" in fee_balances else Decimal(0)
    assert charged == fees
