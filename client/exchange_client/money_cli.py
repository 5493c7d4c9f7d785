"""``exchange`` commands for money out and notifications (``cli`` adds them):

    exchange destinations add USD "GB82 WEST 1234 5698 7654 32" --kind BANK --label "my bank"
    exchange destinations [list]                    # yours, with when each becomes usable
    exchange destinations remove dst-...
    exchange withdraw USD 250.00 --destination dst-...
    exchange withdrawals [list]                     # newest first
    exchange withdrawals show wd-...
    exchange withdrawals cancel wd-...              # only while it is PENDING
    exchange notifications [show]                   # which notices are emailed to you
    exchange notifications set FILL on              # SECURITY cannot be switched off

Destinations and ``notifications set`` always take the signed-in user's token (never an API
key); the rest sign with the API key when there is one.
"""

import argparse
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Final

from exchange_client.api import ExchangeClient
from exchange_client.money_models import Destination, Withdrawal
from exchange_client.render import table

COMMANDS: Final = frozenset({"destinations", "withdraw", "withdrawals", "notifications"})
NOTICE_KINDS: Final = ("FILL", "DEPOSIT", "WITHDRAWAL", "SECURITY")
ClientFactory = Callable[..., Awaitable[ExchangeClient]]


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    destinations = commands.add_parser("destinations", help="where your withdrawals may go")
    actions = destinations.add_subparsers(dest="action")
    add = actions.add_parser("add", help="add one (usable after a waiting period)")
    add.add_argument("asset")
    add.add_argument("address")
    add.add_argument("--kind", choices=["ADDRESS", "BANK"], default="ADDRESS")
    add.add_argument("--label", default="")
    actions.add_parser("list", help="your destinations, newest first")
    remove = actions.add_parser("remove", help="remove one")
    remove.add_argument("destination_id")
    withdraw = commands.add_parser("withdraw", help="withdraw to one of your destinations")
    withdraw.add_argument("asset")
    withdraw.add_argument("amount", type=Decimal)
    withdraw.add_argument("--destination", required=True, dest="destination_id")
    withdrawals = commands.add_parser("withdrawals", help="your withdrawals; cancel one")
    listing = withdrawals.add_subparsers(dest="action")
    listing.add_parser("list", help="newest first")
    show = listing.add_parser("show", help="one withdrawal")
    show.add_argument("withdrawal_id")
    cancel = listing.add_parser("cancel", help="cancel one not yet sent")
    cancel.add_argument("withdrawal_id")
    notifications = commands.add_parser("notifications", help="which notices are emailed")
    choices = notifications.add_subparsers(dest="action")
    choices.add_parser("show", help="your preferences")
    switch = choices.add_parser("set", help="switch one kind on or off")
    switch.add_argument("kind", type=str.upper, choices=NOTICE_KINDS)
    switch.add_argument("state", choices=["on", "off"])


async def run(args: argparse.Namespace, client_for: ClientFactory) -> int:
    """Run one of ``COMMANDS``; ``client_for(args, token_only=...)`` makes the signed-in
    client."""
    token_only = args.command == "destinations" or (
        args.command == "notifications" and args.action == "set"
    )
    async with await client_for(args, token_only=token_only) as client:
        if args.command == "destinations":
            await _destinations(client, args)
        elif args.command == "withdraw":
            withdrawal = await client.withdraw(
                args.asset, args.amount, destination_id=args.destination_id
            )
            print(f"{withdrawal.status} {withdrawal.withdrawal_id}")
        elif args.command == "withdrawals":
            await _withdrawals(client, args)
        else:
            await _notifications(client, args)
    return 0


async def _destinations(client: ExchangeClient, args: argparse.Namespace) -> None:
    if args.action == "add":
        added = await client.add_destination(
            args.asset, args.address, kind=args.kind, label=args.label
        )
        print(f"{added.status} {added.destination_id} usable from {added.usable_at.isoformat()}")
    elif args.action == "remove":
        removed = await client.remove_destination(args.destination_id)
        print(f"removed {removed.destination_id}")
    else:
        print(_destination_table(await client.destinations()))


async def _withdrawals(client: ExchangeClient, args: argparse.Namespace) -> None:
    if args.action == "cancel":
        cancelled = await client.cancel_withdrawal(args.withdrawal_id)
        print(f"{cancelled.status} {cancelled.withdrawal_id}")
    elif args.action == "show":
        print(_withdrawal_table([await client.get_withdrawal(args.withdrawal_id)]))
    else:
        print(_withdrawal_table(await client.withdrawals()))


async def _notifications(client: ExchangeClient, args: argparse.Namespace) -> None:
    if args.action == "set":
        preferences = await client.set_notification_preferences({args.kind: args.state == "on"})
    else:
        preferences = await client.notification_preferences()
    print(table(
        ["kind", "email"],
        [[kind, "on" if on else "off"] for kind, on in sorted(preferences.email.items())],
    ))  # fmt: skip


def _destination_table(destinations: list[Destination]) -> str:
    return table(
        ["destination_id", "asset", "kind", "address", "label", "status", "usable_at"],
        [[d.destination_id, d.asset, d.kind, d.address, d.label, d.status,
          d.usable_at.isoformat()] for d in destinations],
    )  # fmt: skip


def _withdrawal_table(withdrawals: list[Withdrawal]) -> str:
    return table(
        ["withdrawal_id", "asset", "amount", "status", "destination_id", "created_at", "reason"],
        [[w.withdrawal_id, w.asset, w.amount, w.status, w.destination_id or "",
          w.created_at.isoformat() if w.created_at else "", w.failure_reason or ""]
         for w in withdrawals],
    )  # fmt: skip
