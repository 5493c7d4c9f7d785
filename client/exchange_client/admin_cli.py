"""``exchange admin``: the operators' commands (the signed-in user must be in the operators'
Cognito group; every action needs ``--reason``, kept with who and when in the audit log).

    exchange admin markets
    exchange admin status BTC-USD POST_ONLY --reason "thin book after the outage"
    exchange admin halt BTC-USD --reason "erroneous prints"      # status HALTED
    exchange admin resume BTC-USD --reason "prints corrected"    # status TRADING
    exchange admin cancel-orders --symbol BTC-USD [--account A] --reason "..."
    exchange admin cancel-orders --account A --reason "..."      # in every symbol
    exchange admin kill-switch HALTED --reason "..."             # every symbol; TRADING resumes
    exchange admin freeze ACCOUNT --reason "..."  /  unfreeze ACCOUNT --reason "..."
    exchange admin instrument BTC-USD                            # the listing and its versions
    exchange admin list-instrument ACME-USD --file acme.json --reason "..." [--version N]
    exchange admin list-instrument BTC-USD --taker-fee-bps 7 --reason "..."   # a change
    exchange admin dividend declare ACME-USD --amount 0.25 --record-time 2026-03-01T00:00:00Z \\
        --pay-time 2026-03-01T00:10:00Z --issuer acme-treasury --reason "Q1"
    exchange admin dividends [--symbol ACME-USD]
    exchange admin audit [--limit 20] [--before SEQ]

Every command prints a table, or the answer as JSON with ``--json``. ``list-instrument``
starts from ``--file`` (an instrument object, or an instruments-file array holding the symbol),
else from the symbol's definition in force (a change), else from nothing (a new symbol); flags
override. Exit codes: 0 done; 1 refused (4xx, or not signed in); 2 bad usage; 3 the exchange
failed (5xx: the problem is on stderr, retry); 4 an action that did not reach every symbol
(those are on stderr: run it again); 5 the audit log's chain does not verify.
"""

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import msgspec

from exchange_client.admin_models import AdminAction, AuditEntry, Freeze
from exchange_client.api import ExchangeClient
from exchange_client.endpoints.admin import STATUSES
from exchange_client.errors import ApiError, ExchangeClientError
from exchange_client.render import table

INCOMPLETE: Final = 4
CHAIN_BROKEN: Final = 5
KILL_SWITCH: Final = ("CANCEL_ONLY", "HALTED", "TRADING")
# list-instrument's definition flags: (flag, field, kind)
DEFINITION_FLAGS: Final = (
    ("--base", "base", "text"),
    ("--quote", "quote", "text"),
    ("--tick-size", "tick_size", "decimal"),
    ("--lot-size", "lot_size", "decimal"),
    ("--min-qty", "min_qty", "decimal"),
    ("--max-qty", "max_qty", "decimal"),
    ("--price-band-pct", "price_band_pct", "decimal"),
    ("--maker-fee-bps", "maker_fee_bps", "int"),
    ("--taker-fee-bps", "taker_fee_bps", "int"),
    ("--reference-price", "reference_price", "decimal"),
    ("--band-min-qty", "band_min_qty", "decimal"),
    ("--max-price", "max_price", "decimal"),
    ("--max-notional", "max_notional", "decimal"),
    ("--asset-class", "asset_class", "text"),
    ("--status", "status", "text"),
)


def decimal_text(value: str) -> str:
    """A decimal flag, checked but kept as typed (the API takes exact strings)."""
    try:
        Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {value!r}") from None
    return value


def aware_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time a zone (e.g. Z): {value!r}")
    return moment


def add_parser(admin: argparse.ArgumentParser) -> None:
    """The ``admin`` subcommands, on the parser ``exchange admin`` gets."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the answer as JSON")
    why = argparse.ArgumentParser(add_help=False)
    why.add_argument("--reason", required=True, help="why (3 to 500 characters; audited)")
    actions = admin.add_subparsers(dest="action", required=True)
    actions.add_parser("markets", parents=[common], help="every symbol's status and listing")
    status = actions.add_parser("status", parents=[common, why], help="set a symbol's status")
    status.add_argument("symbol")
    status.add_argument("status", type=str.upper, choices=STATUSES)
    for name, meaning in (("halt", "HALTED"), ("resume", "TRADING")):
        shortcut = actions.add_parser(name, parents=[common, why], help=f"status {meaning}")
        shortcut.add_argument("symbol")
    cancel = actions.add_parser(
        "cancel-orders", parents=[common, why], help="cancel a symbol's or an account's orders"
    )
    cancel.add_argument("--symbol")
    cancel.add_argument("--account")
    kill = actions.add_parser("kill-switch", parents=[common, why], help="every symbol at once")
    kill.add_argument("status", type=str.upper, choices=KILL_SWITCH)
    for name in ("freeze", "unfreeze"):
        account = actions.add_parser(name, parents=[common, why], help=f"{name} an account")
        account.add_argument("account")
    instrument = actions.add_parser("instrument", parents=[common], help="a listing's versions")
    instrument.add_argument("symbol")
    listing = actions.add_parser(
        "list-instrument", parents=[common, why], help="list an instrument or change its terms"
    )
    listing.add_argument("symbol")
    listing.add_argument("--file", type=Path, help="the definition as JSON")
    listing.add_argument("--version", type=int, help="the version this writes (or republishes)")
    listing.add_argument("--shard", help="a new symbol's engine shard (default: least loaded)")
    kinds: dict[str, Callable[[str], Any]] = {"text": str, "decimal": decimal_text, "int": int}
    for flag, field, kind in DEFINITION_FLAGS:
        listing.add_argument(flag, dest=f"def_{field}", type=kinds[kind], metavar=field.upper())
    dividend = actions.add_parser("dividend", help="declare a dividend").add_subparsers(
        dest="dividend_action", required=True
    )
    declare = dividend.add_parser("declare", parents=[common, why], help="on an EQUITY symbol")
    declare.add_argument("symbol")
    declare.add_argument("--amount", required=True, type=decimal_text, help="per unit held")
    declare.add_argument("--record-time", required=True, type=aware_time)
    declare.add_argument("--pay-time", required=True, type=aware_time)
    declare.add_argument("--issuer", required=True, help="the account that pays")
    declare.add_argument("--id", dest="dividend_id", help="div_...: to retry a declaration")
    dividends = actions.add_parser("dividends", parents=[common], help="declared dividends")
    dividends.add_argument("--symbol")
    audit = actions.add_parser("audit", parents=[common], help="the operators' audit log")
    audit.add_argument("--limit", type=int, default=20)
    audit.add_argument("--before", type=int, help="next_before of the previous page")


async def run(client: ExchangeClient, args: argparse.Namespace) -> int:
    """Run one ``exchange admin`` command; its exit code."""
    return await _COMMANDS[args.action](client, args)


async def _markets(client: ExchangeClient, args: argparse.Namespace) -> int:
    columns = ["symbol", "status", "version", "shard", "status_seq", "listed_seq", "asset_class"]
    return _show(args, await client.admin_markets(), columns)


async def _status(client: ExchangeClient, args: argparse.Namespace) -> int:
    status = {"halt": "HALTED", "resume": "TRADING"}.get(args.action) or args.status
    return _action(args, await client.set_status(args.symbol, status, reason=args.reason))


async def _cancel_orders(client: ExchangeClient, args: argparse.Namespace) -> int:
    if args.symbol is None and args.account is None:
        raise ExchangeClientError("cancel-orders needs --symbol, --account, or both")
    cancelled = await client.cancel_orders(
        reason=args.reason, symbol=args.symbol, account_id=args.account
    )
    return _action(args, cancelled)


async def _kill_switch(client: ExchangeClient, args: argparse.Namespace) -> int:
    return _action(args, await client.kill_switch(args.status, reason=args.reason))


async def _freeze(client: ExchangeClient, args: argparse.Namespace) -> int:
    change = client.freeze_account if args.action == "freeze" else client.unfreeze_account
    return _action(args, await change(args.account, reason=args.reason))


async def _dividend(client: ExchangeClient, args: argparse.Namespace) -> int:
    declared = await client.declare_dividend(
        args.symbol,
        amount_per_unit=args.amount,
        record_time=args.record_time,
        pay_time=args.pay_time,
        issuer_account_id=args.issuer,
        reason=args.reason,
        dividend_id=args.dividend_id,
    )
    return _show(args, [declared], _DIVIDEND_COLUMNS)


async def _dividends(client: ExchangeClient, args: argparse.Namespace) -> int:
    return _show(args, await client.admin_dividends(args.symbol), _DIVIDEND_COLUMNS)


async def _instrument_detail(client: ExchangeClient, args: argparse.Namespace) -> int:
    return _instrument(args, await client.admin_instrument(args.symbol))


_DIVIDEND_COLUMNS: Final = (
    "dividend_id", "symbol", "amount_per_unit", "asset", "record_time", "pay_time",
    "issuer_account_id", "status", "holders", "total_paid",
)  # fmt: skip


def _builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _print_json(value: Any) -> None:
    print(json.dumps(_builtins(value), indent=2, sort_keys=True))


def _show(args: argparse.Namespace, rows: Sequence[Any], columns: Sequence[str]) -> int:
    if args.json:
        _print_json(list(rows))
        return 0
    plain = [_builtins(row) for row in rows]
    print(table(columns, [[_cell(row.get(c)) for c in columns] for row in plain]))
    return 0


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _action(args: argparse.Namespace, result: AdminAction) -> int:
    if args.json:
        _print_json(result)
    else:
        if isinstance(result, Freeze):
            state = "frozen" if result.frozen else "unfrozen"
            print(f"{result.account_id} {state}{'' if result.changed else ' (already)'}")
        print(f"audit entry #{result.audit_seq}")
        print(table(["symbol", "command_id", "outcome", "detail"],
                    [[c.symbol, c.command_id, c.outcome, c.detail or ""]
                     for c in result.commands]))  # fmt: skip
    if result.complete:
        return 0
    missed = ", ".join(command.symbol for command in result.not_sent)
    print(f"not sent to {missed}: run the same command again", file=sys.stderr)
    return INCOMPLETE


def _instrument(args: argparse.Namespace, detail: Any) -> int:
    if args.json:
        _print_json(detail)
        return 0
    listing = detail.listing
    print(f"{listing.symbol}  {listing.status}  version {listing.version}  shard {listing.shard}"
          f"  listed_seq {_cell(listing.listed_seq)}  status_seq {listing.status_seq}")  # fmt: skip
    for name, value in sorted(listing.instrument.items()):
        print(f"  {name:<16} {_cell(value)}")
    print(table(["version", "actor", "reason", "created_at"],
                [[v.version, v.actor, v.reason, _cell(v.created_at)]
                 for v in detail.history]))  # fmt: skip
    return 0


async def _list_instrument(client: ExchangeClient, args: argparse.Namespace) -> int:
    definition = await _definition(client, args)
    result = await client.list_instrument(
        args.symbol, definition, reason=args.reason, version=args.version, shard=args.shard
    )
    if args.json:
        _print_json(result)
        return 0
    listing, command = result.listing, result.command
    verb = "sent again" if result.republished else "listed"
    print(
        f"{listing.symbol} version {listing.version} on {listing.shard} {verb}:"
        f" {command.outcome} ({command.command_id}); audit entry #{result.audit_seq}"
    )
    return 0


async def _definition(client: ExchangeClient, args: argparse.Namespace) -> dict[str, Any]:
    """The definition to send: ``--file``, else the one in force, else nothing; flags over it."""
    if args.file is not None:
        definition = _from_file(args.file, args.symbol)
    else:
        try:
            current = await client.admin_instrument(args.symbol)
        except ApiError as exc:
            if exc.status != 404:
                raise
            definition = {}
        else:
            definition = {k: v for k, v in current.listing.instrument.items() if k != "status"}
    for _flag, field, _kind in DEFINITION_FLAGS:
        value = getattr(args, f"def_{field}")
        if value is not None:
            definition[field] = value
    return definition


def _from_file(path: Path, symbol: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ExchangeClientError(f"cannot read {path}: {exc}") from exc
    if isinstance(document, list):
        found = [
            item for item in document if isinstance(item, dict) and item.get("symbol") == symbol
        ]
        if len(found) != 1:
            raise ExchangeClientError(f"{path} holds no single definition of {symbol}")
        document = found[0]
    if not isinstance(document, dict):
        raise ExchangeClientError(f"{path} is not an instrument object")
    return dict(document)


async def _audit(client: ExchangeClient, args: argparse.Namespace) -> int:
    page = await client.admin_audit(limit=args.limit, before=args.before)
    if args.json:
        _print_json(page)
    else:
        print(table(["seq", "time", "kind", "operator", "reason", "what"],
                    [[e.seq, _cell(e.time), e.kind, e.operator.username if e.operator else "",
                      e.reason or "", _what(e)] for e in page.entries]))  # fmt: skip
        if page.next_before is not None:
            print(f"older: --before {page.next_before}")
    if page.verified:
        if not args.json:
            print(f"chain verified up to #{page.head_seq}")
        return 0
    print(f"the audit chain breaks at #{page.broken_at}: {page.problem}", file=sys.stderr)
    return CHAIN_BROKEN


def _what(entry: AuditEntry) -> str:
    details = entry.details
    parts = []
    for key in ("status", "account_id", "version", "dividend_id"):
        if details.get(key) is not None:
            parts.append(f"{key}={details[key]}")
    symbols = details.get("symbols") or []
    if symbols:
        parts.append(f"symbols={','.join(symbols) if len(symbols) <= 3 else len(symbols)}")
    return " ".join(parts)


_COMMANDS: Final[dict[str, Callable[[ExchangeClient, argparse.Namespace], Awaitable[int]]]] = {
    "markets": _markets,
    "status": _status,
    "halt": _status,
    "resume": _status,
    "cancel-orders": _cancel_orders,
    "kill-switch": _kill_switch,
    "freeze": _freeze,
    "unfreeze": _freeze,
    "instrument": _instrument_detail,
    "list-instrument": _list_instrument,
    "dividend": _dividend,
    "dividends": _dividends,
    "audit": _audit,
}
