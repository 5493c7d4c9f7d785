"""``InMemoryWithdrawals``: money out and the ledger's notices on dicts, mixed into
``InMemoryLedger`` (``exchange.testing.ledger``), for unit tests of the account API, the payout
worker and sweeper, the notices' relay and the emailer.

It follows ``PostgresWithdrawals`` and ``PostgresNotices`` rule for rule (the same statuses,
errors and notices; a destination usable ``delay`` after ``clock()``), without their concurrency:
a fake runs one call at a time. Each change's notice is appended to ``outbox`` as it happens, as
the real ledger writes it in the change's transaction.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from exchange.ledger.errors import (
    DestinationConflict,
    DestinationNotUsable,
    InvalidTransition,
    InvalidWebhook,
    ReplayedWebhook,
    UnknownAccount,
    UnknownDestination,
    UnknownWithdrawal,
    WithdrawalNotCancellable,
)
from exchange.ledger.model import KycStatus, Withdrawal, WithdrawalStatus
from exchange.ledger.money import amount_text, check_amount, scale_of
from exchange.ledger.notices_port import NoticesPort
from exchange.ledger.payouts_port import (
    Destination,
    NewDestination,
    PayoutNotice,
    PayoutOrder,
    WithdrawalsPort,
)
from exchange.ledger.statements import MovementKind
from exchange.notices import ALWAYS_EMAILED, Notice, NoticeKind, NotificationPreferences
from exchange.testing.statements import InMemoryStatements


class InMemoryWithdrawals(InMemoryStatements, WithdrawalsPort, NoticesPort):
    # InMemoryLedger's state and checks, which this mixin shares.
    _scales: dict[str, int]
    _clock: Callable[[], datetime]
    _seen_events: set[str]
    accounts: dict[str, KycStatus]
    frozen: set[str]
    available: dict[tuple[str, str], Decimal]
    held: dict[tuple[str, str], Decimal]
    total_changes: list[tuple[datetime, str, str, Decimal]]
    withdrawals_by_id: dict[str, Withdrawal]
    destinations_by_id: dict[str, Destination]
    outbox: list[Notice]
    published: set[str]
    preferences: dict[str, NotificationPreferences]

    def _init_withdrawals(self) -> None:
        self.withdrawals_by_id = {}
        self.destinations_by_id = {}
        self.outbox = []
        self.published = set()
        self.preferences = {}

    def _require_trading(self, account_id: str) -> None:
        raise NotImplementedError

    def _refuse_frozen(self, account_id: str, what: str) -> None:
        raise NotImplementedError

    def _hold_funds(self, account_id: str, asset: str, amount: Decimal) -> None:
        raise NotImplementedError

    def _notify(
        self, kind: NoticeKind, event: str, account_id: str, data: Mapping[str, str]
    ) -> None:
        at = self._clock()
        self.outbox.append(
            Notice(
                notice_id=f"ledger#{len(self.outbox) + 1}",
                kind=kind,
                event=event,
                account_id=account_id,
                at_ns=int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1_000,
                data=dict(data),
            )
        )

    # -- destinations ---------------------------------------------------------------------------
    def add_destination(self, new: NewDestination, *, delay: timedelta) -> Destination:
        scale_of(self._scales, new.asset)
        if delay < timedelta(0):
            raise ValueError(f"a destination's waiting period cannot be negative, was {delay}")
        if new.account_id not in self.accounts:
            raise UnknownAccount(f"no user account {new.account_id!r}")
        existing = self.destinations_by_id.get(new.destination_id)
        if existing is not None:
            terms = ("account_id", "asset", "kind", "address", "label")
            different = [t for t in terms if getattr(existing, t) != getattr(new, t)]
            if different:
                raise DestinationConflict(
                    f"destination {new.destination_id} was added with other terms "
                    f"({', '.join(different)})"
                )
            return existing
        self._refuse_frozen(new.account_id, f"destination {new.destination_id}")
        now = self._clock()
        added = Destination(
            new.destination_id,
            new.account_id,
            new.asset,
            new.kind,
            new.address,
            new.label,
            created_at=now,
            usable_at=now + delay,
        )
        self.destinations_by_id[added.destination_id] = added
        self._notify(
            NoticeKind.SECURITY,
            "destination.added",
            added.account_id,
            {
                "asset": added.asset,
                "destination_id": added.destination_id,
                "kind": added.kind.value,
                "address": added.address,
                "label": added.label,
                "usable_at": added.usable_at.isoformat(),
            },
        )
        return added

    def destinations(self, account_id: str) -> list[Destination]:
        mine = [
            d
            for d in self.destinations_by_id.values()
            if d.account_id == account_id and d.removed_at is None
        ]
        return sorted(mine, key=lambda d: (d.created_at, d.destination_id), reverse=True)

    def remove_destination(self, account_id: str, destination_id: str) -> Destination:
        found = self.destinations_by_id.get(destination_id)
        if found is None or found.account_id != account_id:
            raise UnknownDestination(f"no destination {destination_id!r}")
        if found.removed_at is None:
            found = replace(found, removed_at=self._clock())
            self.destinations_by_id[destination_id] = found
        return found

    # -- the withdrawal's life ------------------------------------------------------------------
    def request_withdrawal(
        self,
        withdrawal_id: str,
        account_id: str,
        asset: str,
        amount: Decimal,
        *,
        destination_id: str,
    ) -> Withdrawal:
        checked = check_amount(amount, scale_of(self._scales, asset), asset=asset)
        self._require_trading(account_id)
        existing = self.withdrawals_by_id.get(withdrawal_id)
        if existing is not None:
            if (existing.account_id, existing.asset, existing.amount, existing.destination_id) != (
                account_id,
                asset,
                checked,
                destination_id,
            ):
                raise InvalidTransition(f"withdrawal {withdrawal_id} exists with other terms")
            return existing
        self._require_usable(destination_id, account_id, asset)
        self._refuse_frozen(account_id, f"withdrawal {withdrawal_id}")
        self._hold_funds(account_id, asset, checked)
        now = self._clock()
        withdrawal = Withdrawal(
            withdrawal_id,
            account_id,
            asset,
            checked,
            WithdrawalStatus.PENDING,
            destination_id=destination_id,
            created_at=now,
            updated_at=now,
        )
        return self._changed(withdrawal, "withdrawal.requested")

    def _require_usable(self, destination_id: str, account_id: str, asset: str) -> None:
        found = self.destinations_by_id.get(destination_id)
        name = f"destination {destination_id!r}"
        if found is None or found.account_id != account_id:
            raise DestinationNotUsable(f"no {name} for account {account_id}")
        if found.asset != asset:
            raise DestinationNotUsable(f"{name} is for {found.asset}, not {asset}")
        if found.status(self._clock()) != "ACTIVE":
            raise DestinationNotUsable(f"{name} is {found.status(self._clock())}")

    def complete_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        return self._finish(withdrawal_id, completed=True)

    def fail_withdrawal(self, withdrawal_id: str, *, reason: str | None = None) -> Withdrawal:
        return self._finish(withdrawal_id, completed=False, reason=reason)

    def _finish(
        self,
        withdrawal_id: str,
        *,
        completed: bool,
        reason: str | None = None,
        notice: PayoutNotice | None = None,
    ) -> Withdrawal:
        current = self._withdrawal(withdrawal_id)
        target = WithdrawalStatus.COMPLETED if completed else WithdrawalStatus.FAILED
        if current.status is target:
            return current
        allowed = {WithdrawalStatus.SENDING}
        if not completed and notice is None:
            allowed.add(WithdrawalStatus.PENDING)
        if current.status not in allowed:
            raise InvalidTransition(
                f"withdrawal {withdrawal_id} is {current.status}; it cannot become {target}"
            )
        pocket = (current.account_id, current.asset)
        self.held[pocket] -= current.amount
        if completed:
            at = self._clock()
            self.total_changes.append((at, *pocket, -current.amount))
            self._record_line(
                current.account_id,
                current.asset,
                MovementKind.WITHDRAWAL,
                -current.amount,
                withdrawal_id,
                at=at,
            )
        else:
            self.available[pocket] += current.amount
        finished = replace(
            current,
            status=target,
            failure_reason=reason,
            provider_reference=current.provider_reference
            if notice is None
            else notice.provider_reference,
        )
        return self._changed(finished, f"withdrawal.{target.value.lower()}")

    def _changed(self, withdrawal: Withdrawal, event: str | None = None) -> Withdrawal:
        """Store it (updated now), with its notice when ``event`` names one."""
        withdrawal = replace(withdrawal, updated_at=self._clock())
        self.withdrawals_by_id[withdrawal.withdrawal_id] = withdrawal
        if event is not None:
            data = {
                "asset": withdrawal.asset,
                "amount": amount_text(self._scales, withdrawal.asset, withdrawal.amount),
                "withdrawal_id": withdrawal.withdrawal_id,
            }
            if withdrawal.destination_id is not None:
                data["destination_id"] = withdrawal.destination_id
            if withdrawal.failure_reason is not None:
                data["reason"] = withdrawal.failure_reason
            self._notify(NoticeKind.WITHDRAWAL, event, withdrawal.account_id, data)
        return withdrawal

    def _withdrawal(self, withdrawal_id: str, account_id: str | None = None) -> Withdrawal:
        found = self.withdrawals_by_id.get(withdrawal_id)
        if found is None or (account_id is not None and found.account_id != account_id):
            raise UnknownWithdrawal(f"no withdrawal {withdrawal_id!r}")
        return found

    def withdrawal(self, account_id: str, withdrawal_id: str) -> Withdrawal:
        return self._withdrawal(withdrawal_id, account_id)

    def withdrawals(self, account_id: str, *, limit: int = 100) -> list[Withdrawal]:
        mine = [w for w in self.withdrawals_by_id.values() if w.account_id == account_id]
        return list(reversed(mine))[:limit]  # dicts keep insertion order: newest last

    def cancel_withdrawal(self, account_id: str, withdrawal_id: str) -> Withdrawal:
        current = self._withdrawal(withdrawal_id, account_id)
        if current.status is WithdrawalStatus.CANCELLED:
            return current
        if current.status is not WithdrawalStatus.PENDING:
            raise WithdrawalNotCancellable(
                f"withdrawal {withdrawal_id} is {current.status}: only a PENDING one "
                "(not yet sent) can be cancelled"
            )
        pocket = (account_id, current.asset)
        self.held[pocket] -= current.amount
        self.available[pocket] += current.amount
        cancelled = replace(current, status=WithdrawalStatus.CANCELLED)
        return self._changed(cancelled, "withdrawal.cancelled")

    def claim_payout(self, withdrawal_id: str) -> PayoutOrder | None:
        current = self._withdrawal(withdrawal_id)
        if current.status.final:
            return None
        self._refuse_frozen(current.account_id, f"payout of withdrawal {withdrawal_id}")
        found = self.destinations_by_id.get(current.destination_id or "")
        if found is None:
            raise UnknownDestination(f"withdrawal {withdrawal_id} has no destination")
        claimed = self._changed(
            replace(current, status=WithdrawalStatus.SENDING, attempts=current.attempts + 1)
        )
        return PayoutOrder(claimed, found, claimed.attempts)

    def record_payout_outcome(self, notice: PayoutNotice) -> Withdrawal:
        if notice.event_id in self._seen_events:
            raise ReplayedWebhook(f"webhook event {notice.event_id} was already processed")
        current = self._withdrawal(notice.withdrawal_id)
        if (current.asset, current.amount) != (notice.asset, notice.amount):
            raise InvalidWebhook(f"payout of withdrawal {notice.withdrawal_id} reported as other")
        finished = self._finish(
            notice.withdrawal_id,
            completed=notice.status == "COMPLETED",
            reason=notice.failure_reason if notice.status == "FAILED" else None,
            notice=notice,
        )
        self._seen_events.add(notice.event_id)  # only once nothing raised, as a rollback would
        return finished

    def stuck_payouts(self, older_than: timedelta, *, limit: int) -> list[Withdrawal]:
        before = self._clock() - older_than
        in_flight = (WithdrawalStatus.PENDING, WithdrawalStatus.SENDING)
        stuck = [
            w
            for w in self.withdrawals_by_id.values()
            if w.status in in_flight and w.updated_at is not None and w.updated_at < before
        ]
        return sorted(stuck, key=lambda w: (w.updated_at or before, w.withdrawal_id))[:limit]

    # -- notices --------------------------------------------------------------------------------
    def unpublished_notices(self, *, limit: int) -> list[Notice]:
        return [n for n in self.outbox if n.notice_id not in self.published][:limit]

    def mark_published(self, notice_ids: Sequence[str]) -> None:
        self.published.update(notice_ids)

    def notification_preferences(self, account_id: str) -> NotificationPreferences:
        if account_id not in self.accounts:
            raise UnknownAccount(f"no user account {account_id!r}")
        return self.preferences.get(account_id) or NotificationPreferences.defaults(account_id)

    def set_notification_preferences(
        self, preferences: NotificationPreferences
    ) -> NotificationPreferences:
        refused = [kind for kind in ALWAYS_EMAILED if preferences.email.get(kind) is False]
        if refused:
            raise ValueError(f"{', '.join(sorted(refused))} notices cannot be switched off")
        account_id = preferences.account_id
        if account_id not in self.accounts:
            raise UnknownAccount(f"no user account {account_id!r}")
        stored = NotificationPreferences(
            account_id, {kind: preferences.wants(kind) for kind in NoticeKind}
        )
        self.preferences[account_id] = stored
        return stored
