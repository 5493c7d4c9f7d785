"""The ledger's outbox of notices and the users' notification preferences.

Whatever changes money outside trading (a deposit credited, a withdrawal requested, completed,
failed or cancelled, a destination added) writes its ``Notice`` into ``ledger.outbox`` in the same
transaction, so a notice exists exactly when the change does. The relay
(``exchange.notifications.relay``) publishes what is unpublished and marks it.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence

from exchange.notices import Notice, NotificationPreferences


class NoticesPort(ABC):
    @abstractmethod
    def unpublished_notices(self, *, limit: int) -> list[Notice]:
        """The oldest notices not yet marked published."""

    @abstractmethod
    def mark_published(self, notice_ids: Sequence[str]) -> None:
        """Mark these published (idempotent)."""

    @abstractmethod
    def notification_preferences(self, account_id: str) -> NotificationPreferences:
        """The account's preferences (the defaults until it sets any). Raises UnknownAccount."""

    @abstractmethod
    def set_notification_preferences(
        self, preferences: NotificationPreferences
    ) -> NotificationPreferences:
        """Store them (SECURITY cannot be switched off: ValueError). Raises UnknownAccount."""
