"""Emailing notices: the consumer of the notifications queue (SQS, subscribed to the topic).

The topic's subscription uses raw message delivery, so each SQS message body is one ``Notice``'s
JSON exactly as it was published ("Amazon SNS raw message delivery": with raw delivery off, the
body would be SNS's JSON envelope with the notice as a string in its ``Message``; that form is
refused here, as is any body that is not a notice, and fails the message).

For each notice, ``Emailer.deliver``:

1. reads the account's preferences from the ledger (``notification_preferences``); a kind the
   user switched off is claimed as SKIPPED and nothing is sent (security notices always go);
2. claims the notice in the notifications table: a conditional put on ``attribute_not_exists
   (notice_id)``, so of two deliveries of one notice (SNS and SQS are at least once, the relay
   may publish twice) only one goes on: the other is a DUPLICATE and sends nothing. A claim
   left SENDING by a crashed invocation may be taken again once ``stale_after_ns`` has passed;
3. looks the address up in the user directory (Cognito ``ListUsers`` by ``sub``);
4. renders the email (``templates``) and sends it through SES; then the claim becomes SENT with
   SES's message id. A send that fails (or a directory that cannot answer) deletes the claim and
   fails the message, so SQS delivers it again and the retry sends it.

An account with no address in the directory is claimed SKIPPED (there is nowhere to send).
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import StrEnum
from typing import Final

from exchange.domain.errors import ExchangeError
from exchange.journal.batch import count
from exchange.ledger.errors import UnknownAccount
from exchange.ledger.notices_port import NoticesPort
from exchange.notices import Notice
from exchange.notifications.templates import Email, render
from exchange.observability import logger

# A claim still SENDING after this long belongs to an invocation that died between claiming and
# sending (the emailer's timeout is a minute): a redelivery may take it over.
DEFAULT_STALE_AFTER_NS: Final = 5 * 60 * 10**9


class ClaimStatus(StrEnum):
    SENDING = "SENDING"
    SENT = "SENT"
    SKIPPED = "SKIPPED"


class Outcome(StrEnum):
    SENT = "SENT"
    SKIPPED = "SKIPPED"  # the preference is off
    NO_ADDRESS = "NO_ADDRESS"  # the directory has no email for the account
    NO_ACCOUNT = "NO_ACCOUNT"  # the ledger does not know the account
    DUPLICATE = "DUPLICATE"  # claimed before: sent, skipped, or being sent


class EmailNotSent(ExchangeError):
    """SES (or the directory) did not take the email; the message is delivered again."""

    code = "email_not_sent"


class Claims(ABC):
    """The notifications table: one claim per notice."""

    @abstractmethod
    def claim(self, notice: Notice, status: ClaimStatus, *, now_ns: int, stale_before: int) -> bool:
        """Write the claim unless the notice has one (a SENDING claim created before
        ``stale_before`` does not count); False when it has."""

    @abstractmethod
    def finish(self, notice_id: str, status: ClaimStatus, message_id: str | None = None) -> None:
        """Record how a claimed notice ended (SENT with SES's id, or SKIPPED)."""

    @abstractmethod
    def release(self, notice_id: str) -> None:
        """Delete the claim (the send failed: a redelivery sends it)."""


class Directory(ABC):
    @abstractmethod
    def email_of(self, account_id: str) -> str | None:
        """The account's email address; None when the directory has none. Raises EmailNotSent
        when the directory cannot answer."""


class Mailer(ABC):
    @abstractmethod
    def send(self, to: str, email: Email, notice: Notice) -> str:
        """Send; returns the provider's message id. Raises EmailNotSent."""


class Emailer:
    def __init__(
        self,
        *,
        ledger: NoticesPort,
        claims: Claims,
        directory: Directory,
        mailer: Mailer,
        clock_ns: Callable[[], int] = time.time_ns,
        stale_after_ns: int = DEFAULT_STALE_AFTER_NS,
    ) -> None:
        self._ledger = ledger
        self._claims = claims
        self._directory = directory
        self._mailer = mailer
        self._clock_ns = clock_ns
        self._stale_after_ns = stale_after_ns

    def deliver(self, notice: Notice) -> Outcome:
        """Email ``notice`` once, as its owner's preferences say. EmailNotSent when the send (or
        the address lookup) failed: the claim is gone and the caller fails the message."""
        try:
            outcome = self._deliver(notice)
        except EmailNotSent:
            count("NoticesNotSent")  # retried by SQS; the dead-letter queue's depth is alarmed
            raise
        count(f"Notices{outcome.value.title().replace('_', '')}")
        logger.info(
            "notice delivered",
            extra={"notice_id": notice.notice_id, "event": notice.event, "outcome": outcome},
        )
        return outcome

    def _deliver(self, notice: Notice) -> Outcome:
        try:
            preferences = self._ledger.notification_preferences(notice.account_id)
        except UnknownAccount:
            return Outcome.NO_ACCOUNT
        now_ns = self._clock_ns()
        stale_before = now_ns - self._stale_after_ns
        if not preferences.wants(notice.kind):
            claimed = self._claims.claim(
                notice, ClaimStatus.SKIPPED, now_ns=now_ns, stale_before=stale_before
            )
            return Outcome.SKIPPED if claimed else Outcome.DUPLICATE
        if not self._claims.claim(
            notice, ClaimStatus.SENDING, now_ns=now_ns, stale_before=stale_before
        ):
            return Outcome.DUPLICATE
        try:
            address = self._directory.email_of(notice.account_id)
            if address is None:
                self._claims.finish(notice.notice_id, ClaimStatus.SKIPPED)
                return Outcome.NO_ADDRESS
            message_id = self._mailer.send(address, render(notice), notice)
        except EmailNotSent:
            self._claims.release(notice.notice_id)
            raise
        self._claims.finish(notice.notice_id, ClaimStatus.SENT, message_id)
        return Outcome.SENT


# --- fakes (unit tests) ---------------------------------------------------------------------------


class InMemoryClaims(Claims):
    def __init__(self) -> None:
        self.items: dict[str, tuple[ClaimStatus, int, str | None]] = {}

    def claim(self, notice: Notice, status: ClaimStatus, *, now_ns: int, stale_before: int) -> bool:
        held = self.items.get(notice.notice_id)
        if held is not None and not (held[0] is ClaimStatus.SENDING and held[1] < stale_before):
            return False
        self.items[notice.notice_id] = (status, now_ns, None)
        return True

    def finish(self, notice_id: str, status: ClaimStatus, message_id: str | None = None) -> None:
        self.items[notice_id] = (status, self.items[notice_id][1], message_id)

    def release(self, notice_id: str) -> None:
        self.items.pop(notice_id, None)


class InMemoryDirectory(Directory):
    def __init__(self, addresses: dict[str, str] | None = None) -> None:
        self.addresses = dict(addresses or {})

    def email_of(self, account_id: str) -> str | None:
        return self.addresses.get(account_id)


class InMemoryMailer(Mailer):
    """Keeps what it sends; ``failures`` makes the next that many sends fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Email, str]] = []  # (to, email, notice id)
        self.failures = 0

    def send(self, to: str, email: Email, notice: Notice) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise EmailNotSent(f"{notice.notice_id}: refused (test)")
        self.sent.append((to, email, notice.notice_id))
        return f"m-{len(self.sent)}"
