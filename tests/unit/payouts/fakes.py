"""Test doubles of the payouts: a provider connection that plays a script, a provider that
answers as told, and a ledger of withdrawals with holds (just what the worker and sweeper use)."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from exchange.ledger.errors import (
    AccountFrozen,
    InvalidTransition,
    InvalidWebhook,
    ReplayedWebhook,
    UnknownWithdrawal,
)
from exchange.ledger.model import Withdrawal, WithdrawalStatus
from exchange.ledger.payouts_port import (
    Destination,
    DestinationKind,
    PayoutNotice,
    PayoutOrder,
)
from exchange.payouts.provider import PayoutProvider, ProviderAnswer


@dataclass
class Sent:
    method: str
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class ScriptedResponse:
    status: int
    body: bytes = b'{"id": "po_1", "status": "PENDING"}'
    headers: dict[str, str] = field(default_factory=dict)

    def read(self, amt: int | None = None) -> bytes:
        return self.body if amt is None else self.body[:amt]

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name)


class ScriptedConnections:
    """``connect`` for HttpPayoutProvider: each connection answers with the next item of the
    script (a response, or an exception raised as the network would)."""

    def __init__(self, *script: ScriptedResponse | OSError) -> None:
        self.script = list(script)
        self.sent: list[Sent] = []

    def __call__(self) -> "ScriptedConnections._Connection":
        return ScriptedConnections._Connection(self)

    class _Connection:
        def __init__(self, owner: "ScriptedConnections") -> None:
            self._owner = owner

        def request(
            self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] = {}
        ) -> None:
            self._owner.sent.append(Sent(method, url, body or b"", dict(headers)))

        def getresponse(self) -> ScriptedResponse:
            step = self._owner.script.pop(0)
            if isinstance(step, OSError):
                raise step
            return step

        def close(self) -> None:
            pass


def timeout() -> OSError:
    return TimeoutError("timed out")


def order(
    withdrawal_id: str = "wd-1",
    *,
    amount: str = "25.00",
    address: str = "DE89370400440532013000",
    attempt: int = 1,
) -> PayoutOrder:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return PayoutOrder(
        withdrawal=Withdrawal(
            withdrawal_id,
            "acct-1",
            "USD",
            Decimal(amount),
            WithdrawalStatus.SENDING,
            destination_id="dst-1",
            attempts=attempt,
        ),
        destination=Destination(
            "dst-1", "acct-1", "USD", DestinationKind.BANK, address, "main", now, now
        ),
        attempt=attempt,
    )


class AnsweringProvider(PayoutProvider):
    """Answers each send with the next item: a ProviderAnswer, or an exception to raise."""

    def __init__(self, *answers: ProviderAnswer | Exception) -> None:
        self.answers = list(answers)
        self.orders: list[PayoutOrder] = []

    def send(self, order: PayoutOrder) -> ProviderAnswer:
        self.orders.append(order)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakePayoutLedger:
    """Withdrawals with their holds, following ``WithdrawalsPort``'s docstrings for the calls the
    worker and the sweeper make. ``released`` and ``debited`` count hold movements per id."""

    def __init__(self) -> None:
        self.withdrawals: dict[str, Withdrawal] = {}
        self.orders: dict[str, PayoutOrder] = {}
        self.frozen: set[str] = set()
        self.events: set[str] = set()
        self.released: dict[str, int] = {}
        self.debited: dict[str, int] = {}
        self.reasons: dict[str, str | None] = {}
        self.stale: list[Withdrawal] = []

    def add(self, payout: PayoutOrder) -> None:
        w = replace(payout.withdrawal, status=WithdrawalStatus.PENDING, attempts=0)
        self.withdrawals[w.withdrawal_id] = w
        self.orders[w.withdrawal_id] = payout

    def claim_payout(self, withdrawal_id: str) -> PayoutOrder | None:
        w = self._get(withdrawal_id)
        if w.status.final:
            return None
        if w.account_id in self.frozen:
            raise AccountFrozen(w.account_id)
        w = replace(w, status=WithdrawalStatus.SENDING, attempts=w.attempts + 1)
        self.withdrawals[withdrawal_id] = w
        return replace(self.orders[withdrawal_id], withdrawal=w, attempt=w.attempts)

    def fail_withdrawal(self, withdrawal_id: str, *, reason: str | None = None) -> Withdrawal:
        return self._finish(withdrawal_id, WithdrawalStatus.FAILED, reason)

    def record_payout_outcome(self, notice: PayoutNotice) -> Withdrawal:
        if notice.event_id in self.events:
            raise ReplayedWebhook(notice.event_id)
        w = self._get(notice.withdrawal_id)
        if (notice.asset, notice.amount) != (w.asset, w.amount):
            raise InvalidWebhook("asset or amount differs")
        finished = self._finish(
            notice.withdrawal_id, WithdrawalStatus(notice.status), notice.failure_reason
        )
        self.events.add(notice.event_id)  # only once it applied: nothing is written on a raise
        return finished

    def stuck_payouts(self, older_than: timedelta, *, limit: int) -> list[Withdrawal]:
        return self.stale[:limit]

    def _finish(
        self, withdrawal_id: str, target: WithdrawalStatus, reason: str | None
    ) -> Withdrawal:
        w = self._get(withdrawal_id)
        if w.status is target:
            return w
        if w.status.final:
            raise InvalidTransition(f"{withdrawal_id} is {w.status}")
        moved = self.debited if target is WithdrawalStatus.COMPLETED else self.released
        moved[withdrawal_id] = moved.get(withdrawal_id, 0) + 1
        self.reasons[withdrawal_id] = reason
        w = replace(w, status=target, failure_reason=reason)
        self.withdrawals[withdrawal_id] = w
        return w

    def _get(self, withdrawal_id: str) -> Withdrawal:
        if withdrawal_id not in self.withdrawals:
            raise UnknownWithdrawal(withdrawal_id)
        return self.withdrawals[withdrawal_id]
