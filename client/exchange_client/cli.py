"""``exchange``: the command line on top of the client.

    exchange login alice@example.com --password Exchange-demo-1
    exchange place BTC-USD buy 0.01 65000           # limit; omit the price for market
    exchange amend ORDER_ID --qty 0.005
    exchange cancel ORDER_ID
    exchange cancel-all [--symbol BTC-USD]          # every open order of yours
    exchange orders [--symbol BTC-USD] [--status NEW]
    exchange fills
    exchange balances
    exchange book BTC-USD                           # live view; Ctrl-C to quit
    exchange tape BTC-USD                           # trades as they happen
    exchange mm BTC-USD --mid 65000                 # a market maker (exchange_client.marketmaker)
    exchange keys create --scope read --scope trade --label bot --save
    exchange keys list
    exchange keys revoke ak_...
    exchange markets                                # every symbol, with its trading status
    exchange destinations add USD GB82WEST12345698765432 --kind BANK   # see money_cli
    exchange withdraw USD 250 --destination dst-...
    exchange withdrawals [list|show ID|cancel ID]
    exchange notifications [show|set FILL on]
    exchange transactions [--asset USD] [--start T] [--end T] [--all] [--csv FILE]
    exchange statuses                               # status changes as they happen
    exchange admin ...                              # operators: see exchange_client.admin_cli
    exchange dr failover|failback|status            # AWS operators: see exchange_client.dr_cli

The exchange's address comes from ``EXCHANGE_API_URL`` etc., else from the local stack's state
file; ``login`` saves it with the tokens, so later commands need no flags. With an API key
(``EXCHANGE_API_KEY``/``EXCHANGE_API_SECRET``, or the one ``keys create --save`` saved), trading
and account commands sign with it; ``keys`` and ``admin`` always take the signed-in user's token.

An answer the exchange refused prints the problem's title and detail on stderr and exits 1 (a
4xx) or 3 (a 5xx: retry); ``exchange admin`` adds its own codes (``admin_cli``).
"""

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from exchange_client import admin_cli, dr_cli, money_cli, session, statements_cli
from exchange_client.api import ExchangeClient
from exchange_client.config import ClientConfig
from exchange_client.credentials import API_KEY_FILE, ApiKey
from exchange_client.errors import ApiError, ExchangeClientError
from exchange_client.render import render_book, table
from exchange_client.stream import STATUS_CHANNEL, MarketStream


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exchange", description="Trade on the exchange.")
    parser.add_argument("--stack", type=Path, help="local stack state file (default: make run's)")
    commands = parser.add_subparsers(dest="command", required=True)
    login = commands.add_parser("login", help="sign in and save the tokens")
    login.add_argument("email")
    login.add_argument("--password", required=True)
    place = commands.add_parser("place", help="place an order")
    place.add_argument("symbol")
    place.add_argument("side", choices=["buy", "sell"])
    place.add_argument("qty", type=Decimal)
    place.add_argument("price", type=Decimal, nargs="?")
    place.add_argument("--tif", default="GTC", choices=["GTC", "IOC", "FOK"])
    place.add_argument("--post-only", action="store_true")
    place.add_argument("--client-order-id")
    cancel = commands.add_parser("cancel", help="cancel an order")
    cancel.add_argument("order_id")
    cancel_all = commands.add_parser("cancel-all", help="cancel all your open orders")
    cancel_all.add_argument("--symbol")
    amend = commands.add_parser("amend", help="amend an order's quantity and/or price")
    amend.add_argument("order_id")
    amend.add_argument("--qty", type=Decimal)
    amend.add_argument("--price", type=Decimal)
    orders = commands.add_parser("orders", help="your orders, newest first")
    orders.add_argument("--symbol")
    orders.add_argument("--status")
    orders.add_argument("--limit", type=int, default=20)
    fills = commands.add_parser("fills", help="your fills, newest first")
    fills.add_argument("--order-id")
    fills.add_argument("--limit", type=int, default=20)
    commands.add_parser("balances", help="your balances")
    book = commands.add_parser("book", help="the live order book")
    book.add_argument("symbol")
    book.add_argument("--depth", type=int, default=10)
    tape = commands.add_parser("tape", help="trades as they happen")
    tape.add_argument("symbol")
    mm = commands.add_parser("mm", help="run a market maker around a reference price")
    mm.add_argument("symbol")
    mm.add_argument("--mid", type=Decimal, required=True)
    mm.add_argument("--levels", type=int, default=5)
    mm.add_argument("--size", type=Decimal)
    mm.add_argument("--rate", type=float, default=5.0, help="requotes per second")
    _keys_parser(commands.add_parser("keys", help="your programs' API keys"))
    money_cli.add_parsers(commands)
    statements_cli.add_parsers(commands)
    commands.add_parser("markets", help="every symbol, its terms and its trading status")
    commands.add_parser("statuses", help="trading status changes as they happen")
    admin = commands.add_parser(
        "admin",
        help="operators' controls (see --help)",
        description=admin_cli.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    admin_cli.add_parser(admin)
    dr = commands.add_parser(
        "dr",
        help="fail over to the DR region and back (AWS credentials; see --help)",
        description=dr_cli.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dr_cli.add_parser(dr)
    return parser


def _keys_parser(keys: argparse.ArgumentParser) -> None:
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key (its secret is shown once)")
    create.add_argument(
        "--scope", action="append", choices=["read", "trade", "withdraw"], dest="scopes"
    )
    create.add_argument("--label", default="cli")
    create.add_argument("--ip", action="append", dest="allowed_ips", help="a CIDR (repeatable)")
    create.add_argument("--expires-in", type=int, help="seconds until the key expires")
    create.add_argument("--rate-limit", type=int, help="requests per second")
    create.add_argument("--save", action="store_true", help=f"save it to {API_KEY_FILE}")
    actions.add_parser("list", help="your keys (never their secrets)")
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")


async def _client(args: argparse.Namespace, *, token_only: bool = False) -> ExchangeClient:
    api_key = None if token_only else ApiKey.discover()
    if api_key is not None and not session.SESSION_FILE.exists():
        return ExchangeClient(ClientConfig.discover(args.stack), api_key=api_key)
    config, tokens = session.load()
    client = ExchangeClient(config, api_key=api_key)
    session.restore(client.auth, tokens)
    await client.auth.access_token()  # refreshes if needed
    if client.auth.tokens is not None and client.auth.tokens != tokens:
        session.save(config, client.auth.tokens)
    return client


async def run(args: argparse.Namespace) -> int:
    if args.command == "dr":  # boto3 and the operator's AWS credentials, not the exchange's API
        return dr_cli.run(args)
    if args.command == "login":
        config = ClientConfig.discover(args.stack)
        async with ExchangeClient(config) as client:
            await client.sign_in(args.email, args.password)
            assert client.auth.tokens is not None  # noqa: S101 - sign_in sets them
            session.save(config, client.auth.tokens)
        print(f"signed in as {args.email}; tokens saved to {session.SESSION_FILE}")
        return 0
    own = {"tape": _tape, "book": _book, "keys": _keys, "statuses": _statuses,
           "markets": _markets, "admin": _admin}  # fmt: skip
    if args.command in own:
        return await own[args.command](args)
    if args.command in money_cli.COMMANDS:
        return await money_cli.run(args, _client)
    if args.command in statements_cli.COMMANDS:
        return await statements_cli.run(args, _client)
    client = await _client(args)
    async with client:
        if args.command in {"place", "cancel", "cancel-all", "amend"}:
            await _trade(client, args)
        elif args.command == "orders":
            page = await client.list_orders(
                symbol=args.symbol, status=args.status, limit=args.limit
            )
            print(table(
                ["order_id", "symbol", "side", "type", "price", "qty", "filled", "status"],
                [[o.order_id, o.symbol, o.side, o.order_type, o.price or "", o.qty, o.filled_qty,
                  o.status] for o in page.items],
            ))  # fmt: skip
        elif args.command == "fills":
            fills = await client.list_fills(order_id=args.order_id, limit=args.limit)
            print(table(
                ["order_id", "symbol", "side", "role", "price", "qty", "fee"],
                [[f.order_id, f.symbol, f.side, f.role, f.price, f.qty, f.fee]
                 for f in fills.items],
            ))  # fmt: skip
        elif args.command == "balances":
            balances = await client.balances()
            print(table(
                ["asset", "available", "held", "total"],
                [[b.asset, b.available, b.held, b.total] for b in balances],
            ))  # fmt: skip
        elif args.command == "mm":
            from exchange_client.marketmaker import MarketMaker, QuoteConfig  # noqa: PLC0415

            quotes = await QuoteConfig.load(
                client, args.symbol, mid=args.mid, levels=args.levels, size=args.size,
                rate=args.rate,
            )  # fmt: skip
            await MarketMaker(client, quotes).run()
    return 0


async def _trade(client: ExchangeClient, args: argparse.Namespace) -> None:
    if args.command == "place":
        accepted = await client.place_order(
            args.symbol, args.side, args.qty, args.price, tif=args.tif,
            post_only=args.post_only, client_order_id=args.client_order_id,
        )  # fmt: skip
        print(f"{accepted.status} {accepted.order_id}")
    elif args.command == "cancel":
        print((await client.cancel_order(args.order_id)).status)
    elif args.command == "cancel-all":
        cancelled = await client.cancel_all(args.symbol)
        print(f"cancelling {len(cancelled.accepted)} order(s)")
        for accepted in cancelled.accepted:
            print(f"{accepted.status} {accepted.order_id}")
        for item in cancelled.not_sent:
            print(f"NOT SENT {item.order_id}: {item.reason}")
        if not cancelled.complete:
            print("not every order got its cancel: run it again")
    elif args.command == "amend":
        print((await client.amend_order(args.order_id, qty=args.qty, price=args.price)).status)


async def _keys(args: argparse.Namespace) -> int:
    async with await _client(args, token_only=True) as client:
        if args.action == "create":
            expires = None
            if args.expires_in is not None:
                expires = datetime.now(UTC) + timedelta(seconds=args.expires_in)
            created = await client.create_api_key(
                args.label, scopes=args.scopes or ["read"], allowed_ips=args.allowed_ips,
                expires_at=expires, rate_limit_per_second=args.rate_limit,
            )  # fmt: skip
            print(f"key_id  {created.key_id}\nsecret  {created.secret}")
            print("scopes  " + " ".join(created.scopes))
            if args.save:
                ApiKey(created.key_id, created.secret).save()
                print(f"saved to {API_KEY_FILE}")
            else:
                print("the secret is shown only this once: keep it (or pass --save)")
        elif args.action == "list":
            print(table(
                ["key_id", "label", "scopes", "allowed_ips", "rate/s", "status"],
                [[k.key_id, k.label or "", " ".join(k.scopes), " ".join(k.allowed_ips or []),
                  k.rate_limit_per_second or "", k.status or ""]
                 for k in await client.list_api_keys()],
            ))  # fmt: skip
        else:
            await client.revoke_api_key(args.key_id)
            print(f"revoked {args.key_id}")
    return 0


async def _stream(args: argparse.Namespace) -> tuple[MarketStream, ExchangeClient | None]:
    try:
        client = await _client(args)
        stream = MarketStream(
            client.config.ws_url, token=client.auth.access_token, api_key=client.api_key
        )
        return stream, client
    except ExchangeClientError:
        config = ClientConfig.discover(args.stack)  # public channels need no sign-in
        return MarketStream(config.ws_url), None


async def _book(args: argparse.Namespace) -> int:
    stream, client = await _stream(args)
    async with stream:
        await stream.subscribe(f"book.{args.symbol}")
        async for event in stream:
            if event.kind in {"book", "gap", "reconnecting"}:
                book = stream.books[args.symbol]
                sys.stdout.write("\x1b[H\x1b[2J" + render_book(book, args.depth, event.kind))
                sys.stdout.flush()
    if client is not None:
        await client.close()
    return 0


async def _tape(args: argparse.Namespace) -> int:
    stream, client = await _stream(args)
    async with stream:
        await stream.subscribe(f"trades.{args.symbol}")
        print(f"{'seq':>10} {'side':<5} {'price':>14} {'qty':>14}")
        async for event in stream:
            for trade in event.data.get("trades", []) if event.kind == "trades" else []:
                print(f"{trade['seq']:>10} {trade['aggressor_side']:<5} "
                      f"{trade['price']:>14} {trade['qty']:>14}", flush=True)  # fmt: skip
    if client is not None:
        await client.close()
    return 0


async def _markets(args: argparse.Namespace) -> int:
    async with ExchangeClient(ClientConfig.discover(args.stack)) as public:
        print(table(
            ["symbol", "status", "version", "tick_size", "lot_size", "min_qty", "max_qty"],
            [[m.symbol, m.status or "", m.version if m.version is not None else "", m.tick_size,
              m.lot_size, m.min_qty, m.max_qty] for m in await public.markets()],
        ))  # fmt: skip
    return 0


async def _admin(args: argparse.Namespace) -> int:
    async with await _client(args, token_only=True) as client:
        return await admin_cli.run(client, args)


async def _statuses(args: argparse.Namespace) -> int:
    stream, client = await _stream(args)
    async with stream:
        await stream.subscribe(STATUS_CHANNEL)
        async for event in stream:
            if event.kind != "status":
                continue
            changes = event.data.get("markets") or [event.data]
            for change in changes:
                previous = change.get("previous")
                was = f" (was {previous})" if previous else ""
                print(f"{change.get('seq', 0):>10} {change.get('symbol')} {change.get('status')}"
                      f"{was}", flush=True)  # fmt: skip
    if client is not None:
        await client.close()
    return 0


def problem_text(error: ApiError) -> str:
    """A refused request as the CLI reports it: status, the problem's title and detail, and
    each offending field of a validation error."""
    title = error.problem.get("title") or ""
    detail = error.problem.get("detail") or ""
    lines = [f"error: {error.status} {title}: {detail}".rstrip(": ")]
    for field in error.problem.get("errors") or []:
        if isinstance(field, dict):
            lines.append(f"  {field.get('field')}: {field.get('message')}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    except ApiError as exc:
        print(problem_text(exc), file=sys.stderr)
        return 3 if exc.status >= 500 else 1
    except ExchangeClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
