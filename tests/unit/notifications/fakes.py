"""A ledger's notices in memory: the outbox and the preferences (what the relay and the emailer
read)."""

from collections.abc import Sequence

from exchange.ledger.errors import UnknownAccount
from exchange.ledger.notices_port import NoticesPort
from exchange.notices import Notice, NoticeKind, NotificationPreferences


class FakeNotices(NoticesPort):
    def __init__(self, accounts: Sequence[str] = ("alice", "bob")) -> None:
        self.accounts = set(accounts)
        self.outbox: list[Notice] = []
        self.published: list[str] = []
        self.preferences: dict[str, NotificationPreferences] = {}

    def unpublished_notices(self, *, limit: int) -> list[Notice]:
        return [n for n in self.outbox if n.notice_id not in self.published][:limit]

    def mark_published(self, notice_ids: Sequence[str]) -> None:
        self.published.extend(i for i in notice_ids if i not in self.published)

    def notification_preferences(self, account_id: str) -> NotificationPreferences:
        if account_id not in self.accounts:
            raise UnknownAccount(account_id)
        return self.preferences.get(account_id) or NotificationPreferences.defaults(account_id)

    def set_notification_preferences(
        self, preferences: NotificationPreferences
    ) -> NotificationPreferences:
        self.preferences[preferences.account_id] = preferences
        return preferences

    def prefer(self, account_id: str, **email: bool) -> None:
        defaults = NotificationPreferences.defaults(account_id).email
        chosen = {NoticeKind(kind.upper()): wanted for kind, wanted in email.items()}
        self.preferences[account_id] = NotificationPreferences(account_id, {**defaults, **chosen})


def deposit(n: int, account_id: str = "alice", amount: str = "25.00") -> Notice:
    return Notice(
        notice_id=f"ledger#{n}",
        kind=NoticeKind.DEPOSIT,
        event="deposit.credited",
        account_id=account_id,
        at_ns=1_700_000_000 * 10**9,
        data={"asset": "USD", "amount": amount},
    )
