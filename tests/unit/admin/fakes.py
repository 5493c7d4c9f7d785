"""The audit table's chains in memory, with the DynamoDB writer's all-or-nothing append, and a
timeline that records the order in which the admin service touched its ports."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, cast

from exchange.apikeys.audit import Chained, next_entry
from exchange.domain.commands import OperatorCommand
from exchange.journal.audit import AuditEntry, AuditLink
from exchange.ledger.model import AccountKind, KycStatus
from exchange.orders.errors import StoreUnavailable
from exchange.testing.fakes import InMemoryCommandSink
from exchange.testing.ledger import InMemoryLedger


class InMemoryAuditChains:
    def __init__(self, timeline: list[str] | None = None) -> None:
        self.chains: dict[str, list[AuditEntry]] = defaultdict(list)
        self.fail = False
        self._timeline = timeline if timeline is not None else []

    def append(self, events: Sequence[Chained], *, now_ns: int) -> list[AuditEntry]:
        if self.fail:
            raise StoreUnavailable("audit table unavailable (in-memory fake set to fail)")
        entries = []
        for event in events:
            chain = self.chains[event.partition]
            head = AuditLink(chain[-1].seq, chain[-1].hash) if chain else None
            entries.append(next_entry(head, event, now_ns=now_ns))
        for entry in entries:
            self.chains[entry.symbol].append(entry)
            self._timeline.append(f"audit:{entry.symbol}:{entry.kind}")
        return entries

    def newest(self, partition: str, *, limit: int, before_seq: int | None) -> list[AuditEntry]:
        chain = reversed(self.chains[partition])
        return [e for e in chain if before_seq is None or e.seq < before_seq][:limit]

    def entries(self, partition: str) -> Iterable[AuditEntry]:
        return list(self.chains[partition])


class TimedSink(InMemoryCommandSink):
    def __init__(self, timeline: list[str]) -> None:
        super().__init__()
        self._timeline = timeline

    @property
    def sent(self) -> list[OperatorCommand]:
        """What reached the queue (the base class may type it as order commands only)."""
        return cast(list[OperatorCommand], list(self.commands))

    def publish(self, command: Any) -> None:  # an EngineCommand
        self._timeline.append(f"engine:{command.symbol}:{type(command).__name__}")
        super().publish(command)


class TimedLedger(InMemoryLedger):
    timeline: list[str]

    def set_frozen(self, account_id: str, frozen: bool, *, actor: str, reason: str) -> bool:
        self.timeline.append(f"ledger:{account_id}:{'freeze' if frozen else 'unfreeze'}")
        return super().set_frozen(account_id, frozen, actor=actor, reason=reason)


def open_accounts(ledger: InMemoryLedger, *accounts: str) -> None:
    for account in accounts:
        ledger.open_account(account, kyc_status=KycStatus.VERIFIED)
        ledger.fund(account, "USD", Decimal("1000"))
    ledger.open_account("issuer", kyc_status=KycStatus.VERIFIED, kind=AccountKind.USER)
    ledger.fund("issuer", "USD", Decimal("100000"))
