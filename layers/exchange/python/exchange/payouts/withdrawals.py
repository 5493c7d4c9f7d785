"""The account function's money out: the user's withdrawal destinations, and their withdrawals
from the request to the payout queue, the listing and the cancel.

A destination is added PENDING and becomes usable ``destination_delay`` later (a day by
default): a stolen session cannot add an address and drain the account at once, and the user is
told at once (the ledger writes a ``destination.added`` SECURITY notice with it). A withdrawal
names one of the account's usable destinations; the ledger refuses any other
(``DestinationNotUsable``) and holds nothing.

Once the ledger holds a withdrawal's funds, its id goes to the payout queue. A send that fails
is logged and counted (``PayoutsNotQueued``), never the user's error: the withdrawal is held and
PENDING, and the sweeper (``exchange.payouts.sweeper``) sends it once it is older than its stuck
age. A retry of the request (same Idempotency-Key) sends it again, which is harmless: the
worker's claim sends nothing twice.

A destination's id follows from the account and the client's Idempotency-Key, as a
withdrawal's does (``AccountService.withdraw``), so a retry finds what the first request made,
and the ledger records each id once:

>>> destination_id_for("alice", "k-1") == destination_id_for("alice", "k-1")
True
>>> destination_id_for("alice", "k-1") != destination_id_for("bob", "k-1")
True
"""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from exchange.ids import command_id
from exchange.ledger.accounts import AccountService
from exchange.ledger.model import Withdrawal, WithdrawalStatus
from exchange.ledger.payouts_port import (
    Destination,
    DestinationKind,
    NewDestination,
    WithdrawalsPort,
)
from exchange.observability import logger, metrics
from exchange.payouts.destinations import checked_label, normalized_address
from exchange.payouts.queue import PayoutQueue, PayoutQueueUnavailable

MAX_LISTED = 100


def destination_id_for(account_id: str, idempotency_key: str) -> str:
    return f"dst-{command_id(account_id, 'destination', idempotency_key)}"


class WithdrawalService:
    """Destinations and withdrawals of one account at a time (the caller's, from its token).

    ``accounts`` requests the withdrawal (its ledger perhaps wrapped to push the account's
    balances after the hold); ``withdrawals`` is the ledger's money-out port; ``queue`` is the
    payout queue (None: nothing is sent, the sweeper finds each withdrawal later); ``clock``
    tells a destination's status (PENDING until its ``usable_at``)."""

    def __init__(
        self,
        *,
        accounts: AccountService,
        withdrawals: WithdrawalsPort,
        queue: PayoutQueue | None,
        destination_delay: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pushed: Callable[[Iterable[str]], object] | None = None,
    ) -> None:
        self._accounts = accounts
        self._withdrawals = withdrawals
        self._queue = queue
        self._delay = destination_delay
        self.clock = clock
        self._pushed = pushed  # the balances channel's push (never raises); None: no push

    # -- destinations ---------------------------------------------------------------------------
    def add_destination(
        self,
        account_id: str,
        *,
        asset: str,
        kind: DestinationKind,
        address: str,
        label: str,
        idempotency_key: str,
    ) -> Destination:
        """Add a destination, usable after the delay; a retry with the same key and terms
        returns it, other terms raise DestinationConflict. The address is checked and normalized
        first (InvalidDestination), so a retry that differs only in spacing or case of a bank
        reference is the same request."""
        new = NewDestination(
            destination_id=destination_id_for(account_id, idempotency_key),
            account_id=account_id,
            asset=asset,
            kind=kind,
            address=normalized_address(kind, address),
            label=checked_label(label),
        )
        return self._withdrawals.add_destination(new, delay=self._delay)

    def destinations(self, account_id: str) -> list[Destination]:
        return self._withdrawals.destinations(account_id)

    def remove_destination(self, account_id: str, destination_id: str) -> Destination:
        return self._withdrawals.remove_destination(account_id, destination_id)

    # -- withdrawals ----------------------------------------------------------------------------
    def withdraw(
        self,
        account_id: str,
        *,
        asset: str,
        amount: str,
        destination_id: str,
        idempotency_key: str,
    ) -> Withdrawal:
        """Hold ``amount`` for a payout to ``destination_id``, once per key, then queue it.

        The ledger refuses (and holds nothing) for an unknown, removed, waiting or other asset's
        destination (DestinationNotUsable), missing funds, a frozen account or KYC; the same key
        with other terms raises InvalidTransition. A withdrawal already past PENDING (a late
        retry) is not queued again."""
        withdrawal = self._accounts.withdraw(
            account_id,
            asset=asset,
            amount=amount,
            destination_id=destination_id,
            idempotency_key=idempotency_key,
        )
        if withdrawal.status is WithdrawalStatus.PENDING:
            self._enqueue(withdrawal.withdrawal_id)
        return withdrawal

    def withdrawal(self, account_id: str, withdrawal_id: str) -> Withdrawal:
        return self._withdrawals.withdrawal(account_id, withdrawal_id)

    def withdrawals(self, account_id: str, *, limit: int = MAX_LISTED) -> list[Withdrawal]:
        return self._withdrawals.withdrawals(account_id, limit=min(limit, MAX_LISTED))

    def cancel(self, account_id: str, withdrawal_id: str) -> Withdrawal:
        """PENDING -> CANCELLED, the hold released. WithdrawalNotCancellable once the payout
        worker has sent it (SENDING) or it has finished. A queue message already sent for it
        finds it cancelled and sends nothing."""
        withdrawal = self._withdrawals.cancel_withdrawal(account_id, withdrawal_id)
        if self._pushed is not None:  # the hold went back to available
            self._pushed([withdrawal.account_id])
        return withdrawal

    def _enqueue(self, withdrawal_id: str) -> None:
        if self._queue is None:
            logger.warning("no payout queue: the sweeper sends the withdrawal later")
            metrics.add_metric(name="PayoutsNotQueued", unit=MetricUnit.Count, value=1)
            return
        try:
            self._queue.send(withdrawal_id)
        except PayoutQueueUnavailable as exc:
            # The funds are held and the withdrawal PENDING: the sweeper sends it later.
            logger.warning(
                "withdrawal not queued for payout",
                extra={"withdrawal_id": withdrawal_id, "error": str(exc)},
            )
            metrics.add_metric(name="PayoutsNotQueued", unit=MetricUnit.Count, value=1)
