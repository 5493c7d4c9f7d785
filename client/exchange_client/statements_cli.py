"""``exchange transactions``: your statement (``cli`` adds the command).

    exchange transactions                               # the latest 50 lines, newest first
    exchange transactions --asset USD --start 2026-12-01T00:00:00Z --end 2026-12-08T00:00:00Z
    exchange transactions --all                         # every line, oldest first
    exchange transactions --csv statement.csv           # the whole range as a CSV file

Times are ISO-8601 with an offset (``Z`` for UTC), the range ``[start, end)``.
"""

import argparse
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Final

from exchange_client.api import ExchangeClient
from exchange_client.render import table
from exchange_client.statement_models import Transaction

COMMANDS: Final = frozenset({"transactions"})
ClientFactory = Callable[..., Awaitable[ExchangeClient]]


def instant(text: str) -> datetime:
    """An ISO-8601 time with its offset (a naive one is ambiguous and refused).

    >>> instant("2026-12-06T10:00:00Z").isoformat()
    '2026-12-06T10:00:00+00:00'
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset: add Z for UTC")
    return moment


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    listing = commands.add_parser("transactions", help="your statement: every money movement")
    listing.add_argument("--asset")
    listing.add_argument("--start", type=instant, help="inclusive, e.g. 2026-12-01T00:00:00Z")
    listing.add_argument("--end", type=instant, help="exclusive")
    listing.add_argument("--limit", type=int, default=50, help="lines of the latest page")
    listing.add_argument("--all", action="store_true", help="every line, oldest first")
    listing.add_argument("--csv", type=Path, metavar="FILE", help="write the range as CSV")


async def run(args: argparse.Namespace, client_for: ClientFactory) -> int:
    """Run ``exchange transactions``; ``client_for(args)`` makes the signed-in client."""
    async with await client_for(args) as client:
        if args.csv is not None:
            text = await client.transactions_csv(args.asset, start=args.start, end=args.end)
            args.csv.write_text(text, encoding="utf-8", newline="")
            print(f"wrote {max(len(text.splitlines()) - 1, 0)} lines to {args.csv}")
        elif args.all:
            print(transaction_table(
                await client.transactions_all(args.asset, start=args.start, end=args.end)
            ))  # fmt: skip
        else:
            page = await client.transactions(
                args.asset, start=args.start, end=args.end, limit=args.limit
            )
            print(transaction_table(page.transactions))
            if page.next_cursor is not None:
                print("(more: --all, or --csv FILE)")
    return 0


def transaction_table(lines: list[Transaction]) -> str:
    return table(
        ["at", "kind", "asset", "amount", "balance_after", "reference"],
        [[t.at, t.kind, t.asset, t.amount, t.balance_after, t.reference] for t in lines],
    )
