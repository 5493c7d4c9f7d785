"""The engine benchmark's order flow: seeded, reproducible, one symbol.

About 60% passive limit orders near a drifting mid (most within a few ticks of the touch), 10%
aggressive orders that cross (half limit IOC a few ticks through, half market), and 30% cancels
of orders placed earlier. Cancels pick among orders the generator believes rest; some of those
have filled meanwhile and are rejected as unknown, as on a real venue.
"""

import random
from dataclasses import dataclass
from decimal import Decimal

from exchange.domain import (
    CancelOrder,
    Command,
    Instrument,
    NewOrder,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
)

SYMBOL = "BTC-USD"
INSTRUMENT = Instrument(
    symbol=SYMBOL,
    base="BTC",
    quote="USD",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.0001"),
    min_qty=Decimal("0.0001"),
    max_qty=Decimal("1000"),
    price_band_pct=Decimal("10"),
)
START_MID = 1_000_000  # ticks: 10,000.00
ACCOUNTS = 200


@dataclass(frozen=True, slots=True)
class Op:
    """One workload message, engine-neutral: each engine builds its own command from it."""

    kind: str  # "limit", "ioc", "market" or "cancel"
    order_id: int
    account: int
    is_buy: bool
    price: int  # 0 for market
    qty: int


def generate(seed: int, count: int) -> list[Op]:
    rng = random.Random(seed)
    mid = START_MID
    resting: list[tuple[int, int]] = []  # (order_id, account) believed to rest
    ops: list[Op] = []
    for i in range(1, count + 1):
        if rng.random() < 0.05:
            mid += rng.choice((-1, 1))
        roll = rng.random()
        if roll < 0.30 and resting:
            j = rng.randrange(len(resting))
            resting[j], resting[-1] = resting[-1], resting[j]
            order_id, account = resting.pop()
            ops.append(Op("cancel", order_id, account, False, 0, 0))
            continue
        is_buy = rng.random() < 0.5
        account = rng.randrange(ACCOUNTS)
        qty = rng.randint(1, 20)
        if roll < 0.35:
            ops.append(Op("market", i, account, is_buy, 0, qty))
        elif roll < 0.40:
            through = rng.randint(1, 3)
            ops.append(
                Op("ioc", i, account, is_buy, mid + through if is_buy else mid - through, qty)
            )
        else:
            away = min(int(rng.expovariate(0.4)), 40) + 1
            ops.append(Op("limit", i, account, is_buy, mid - away if is_buy else mid + away, qty))
            resting.append((i, account))
    return ops


def to_commands(ops: list[Op]) -> list[Command]:
    """The workload as commands of this exchange, timestamps 1, 2, 3, ..."""
    commands: list[Command] = []
    for ts, op in enumerate(ops, start=1):
        if op.kind == "cancel":
            commands.append(
                CancelOrder(
                    symbol=SYMBOL,
                    ts=ts,
                    command_id=f"x{ts}",
                    order_id=f"o{op.order_id}",
                    account_id=f"a{op.account}",
                )
            )
            continue
        market = op.kind == "market"
        commands.append(
            NewOrder(
                symbol=SYMBOL,
                ts=ts,
                order_id=f"o{op.order_id}",
                account_id=f"a{op.account}",
                client_order_id=f"c{op.order_id}",
                side=Side.BUY if op.is_buy else Side.SELL,
                order_type=OrderType.MARKET if market else OrderType.LIMIT,
                tif=TimeInForce.GTC if op.kind == "limit" else TimeInForce.IOC,
                qty=op.qty,
                price=None if market else op.price,
                stp=StpMode.CANCEL_NEWEST,
            )
        )
    return commands
