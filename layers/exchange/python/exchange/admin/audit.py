"""The operators' audit trail: every admin action, who (the operator's Cognito username and
sub), when (``time_ns``, inside the hashed payload, so it cannot be changed unseen), why (the
operator's ``reason``) and what (symbols, command ids, account, version), as one entry of the
``operators`` chain in the ``audit`` table (the chain rules of ``exchange.apikeys.audit``). A
freeze or unfreeze is also appended to the account's own chain (``account#<id>``), in the same
transaction, so an account's security log shows who froze it and why.

The entry is written *before* the action (``exchange.admin.service``): it records the intent,
with the command ids the engine will journal, so no action happens without its entry (when the
entry cannot be written, nothing is done: 503). An entry whose action then failed (a publish
the broker refused, a listing version another operator wrote first) stays; the answer said so,
and the retry is an entry of its own. What took effect is in the engine's journal
(``TradingStatusChanged`` etc., with the same command id, actor and reason), the ledger's freeze
events and the instruments store's versions.

>>> action = AdminAction(Operator("olga", "s-1"), "fat finger on BTC", "req-1")
>>> [e.partition for e in action_events("admin_account_frozen", action, 7, {"account_id": "a-1"})]
['operators', 'account#a-1']
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, get_args

from exchange.admin.auth import Operator
from exchange.apikeys.audit import (
    ACCOUNT_FROZEN_KINDS,
    Chained,
    ChainEvent,
    security_partition,
    verify_chain,
)
from exchange.journal.audit import AuditEntry, AuditReport

OPERATORS_PARTITION: Final = "operators"
AdminKind = Literal[
    "admin_status_set",
    "admin_kill_switch",
    "admin_mass_cancel",
    "admin_account_frozen",
    "admin_account_unfrozen",
    "admin_instrument_listed",
    "admin_dividend_declared",
]
ADMIN_KINDS: Final[frozenset[str]] = frozenset(get_args(AdminKind))


@dataclass(frozen=True, slots=True)
class AdminAction:
    """Who asks and why: the operator, their reason and the API Gateway request id."""

    operator: Operator
    reason: str
    request_id: str | None = None


def action_events(
    kind: AdminKind, action: AdminAction, now_ns: int, what: Mapping[str, Any]
) -> list[ChainEvent]:
    """The chain events of one action: the ``operators`` chain's, and for a freeze or unfreeze
    the account's too (same document; ``what`` names the ``account_id``)."""
    document = {
        **what,
        "operator": {"username": action.operator.username, "sub": action.operator.sub},
        "reason": action.reason,
        "request_id": action.request_id,
        "time_ns": now_ns,
    }
    events = [ChainEvent(OPERATORS_PARTITION, kind, document)]
    if kind in ACCOUNT_FROZEN_KINDS:
        events.append(ChainEvent(security_partition(str(what["account_id"])), kind, document))
    return events


class AuditChains(Protocol):
    """The audit table's chains, as the admin API uses them."""

    def append(self, events: Sequence[Chained], *, now_ns: int) -> list[AuditEntry]:
        """Append each event to its partition's chain, all in one transaction (at most one
        event per partition): all are written, or none (raises StoreUnavailable)."""

    def newest(self, partition: str, *, limit: int, before_seq: int | None) -> list[AuditEntry]:
        """Up to ``limit`` entries, newest first, below ``before_seq`` (None: from the head)."""

    def entries(self, partition: str) -> Iterable[AuditEntry]:
        """The whole chain, oldest first (the verifier's input)."""


def verify_operators_log(entries: Iterable[AuditEntry]) -> AuditReport:
    """Walk the ``operators`` chain: each entry must link, hash and be an admin action that
    names its operator and reason."""

    def belongs(kind: str, document: Any) -> bool:
        if kind not in ADMIN_KINDS or not isinstance(document, dict):
            return False
        operator = document.get("operator")
        return isinstance(operator, dict) and bool(operator.get("sub")) and "reason" in document

    return verify_chain(OPERATORS_PARTITION, entries, belongs)
