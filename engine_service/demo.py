"""Run the matching engine on a seeded demo stream: ``make run`` until the local stack exists.

Every command and event crosses the wire format exactly as on the broker and in the journal, and
each command's events are packed into a journal record (which checks that seq is gap-free).

    python -m engine_service.demo --commands 20000 --seed 7
"""

import argparse
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator

from engine_service.core import Engine
from exchange import wire
from exchange.domain import (
    CancelOrder,
    Command,
    Instrument,
    InstrumentCatalog,
    NewOrder,
    OrderRejected,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)

ACCOUNTS = ("alice", "bob", "carol", "dave")


def demo_stream(instrument: Instrument, *, count: int, seed: int) -> Iterator[Command]:
    """Limit orders around a drifting mid, some crossing, some cancelled; reproducible by seed."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not security
    # Around the instrument's opening reference, so the orders fall inside its price band.
    mid = instrument.reference_ticks or (
        instrument.price_to_ticks("65000") if instrument.base == "BTC" else 100_000
    )
    resting: list[tuple[str, str]] = []
    for n in range(count):
        ts = 1_700_000_000_000_000_000 + n * 1_000
        mid += rng.choice((-1, 0, 0, 1))
        if resting and rng.random() < 0.3:
            order_id, account = resting.pop(rng.randrange(len(resting)))
            yield CancelOrder(
                symbol=instrument.symbol,
                ts=ts,
                command_id=f"c-{n}",
                order_id=order_id,
                account_id=account,
            )
            continue
        side = rng.choice((Side.BUY, Side.SELL))
        aggressive = rng.random() < 0.15
        offset = rng.randint(-3, 2) if aggressive else rng.randint(1, 8)
        price = mid - offset if side is Side.BUY else mid + offset
        account = rng.choice(ACCOUNTS)
        order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        qty = instrument.min_lots * rng.randint(1, 20)
        yield NewOrder(
            symbol=instrument.symbol,
            ts=ts,
            order_id=order_id,
            account_id=account,
            client_order_id=f"demo-{n}",
            side=side,
            order_type=OrderType.LIMIT,
            tif=TimeInForce.IOC if aggressive else TimeInForce.GTC,
            qty=qty,
            price=price,
        )
        if not aggressive:
            resting.append((order_id, account))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--symbol", default="BTC-USD")
    parser.add_argument("--depth", type=int, default=5)
    args = parser.parse_args(argv)

    catalog = InstrumentCatalog.demo()
    instrument = catalog.get(args.symbol)
    engine = Engine(catalog)
    print(
        f"engine: {len(catalog)} symbols ({', '.join(catalog.symbols)}); "
        f"streaming {args.commands:,} seeded commands to {args.symbol} (seed {args.seed})"
    )

    kinds: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    trades: list[Trade] = []
    started = time.perf_counter()
    for command in demo_stream(instrument, count=args.commands, seed=args.seed):
        events = engine.apply(wire.decode_command(wire.encode_command(command)))
        wire.decode_record(wire.encode_record(wire.JournalRecord.of(events)))
        kinds.update(type(event).__name__ for event in events)
        trades.extend(event for event in events if isinstance(event, Trade))
        reasons.update(event.reason for event in events if isinstance(event, OrderRejected))
    elapsed = time.perf_counter() - started

    print(
        f"\n{args.commands:,} commands -> {sum(kinds.values()):,} events in {elapsed:.2f} s "
        f"({args.commands / elapsed:,.0f} commands/s including the wire format)"
    )
    for kind, n in sorted(kinds.items()):
        print(f"  {kind:<16}{n:>10,}")
    for reason, n in reasons.most_common():
        print(f"    rejected {reason}: {n:,}")
    volume = sum(trade.qty for trade in trades)
    print(
        f"\ntraded {instrument.format_qty(volume)} {instrument.base} in {len(trades):,} trades; "
        f"last {instrument.format_price(trades[-1].price) if trades else '-'} {instrument.quote}"
    )
    print("\nlast trades:")
    price, qty = instrument.format_price, instrument.format_qty
    for trade in trades[-5:]:
        side = trade.aggressor_side
        print(f"  seq {trade.seq:>7}  {side:<4} {qty(trade.qty):>10} @ {price(trade.price)}")

    book = engine.l2(args.symbol, depth=args.depth)
    print(f"\n{args.symbol} book at seq {book.seq}:")
    print(f"  {'bids (qty @ price, orders)':>36} | asks")
    for row in range(args.depth):
        bid = book.bids[row] if row < len(book.bids) else None
        ask = book.asks[row] if row < len(book.asks) else None
        left = f"{qty(bid.qty)} @ {price(bid.price)} ({bid.orders})" if bid else ""
        right = f"{price(ask.price)} x {qty(ask.qty)} ({ask.orders})" if ask else ""
        print(f"  {left:>36} | {right}")


if __name__ == "__main__":
    main()
