"""The admin chains on DynamoDB (moto): one ``TransactWriteItems`` per action, each entry put
under ``attribute_not_exists(seq)``. If any item's condition fails the whole transaction is
cancelled and nothing is written ("TransactWriteItems", Amazon DynamoDB API reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html), so a
freeze's two entries (the operators' chain and the account's) are written together or not at
all, and a writer that lost a seq to another retries on the new head."""

import pytest

from exchange.admin import audit_dynamo
from exchange.admin.audit import (
    OPERATORS_PARTITION,
    AdminAction,
    action_events,
    verify_operators_log,
)
from exchange.admin.audit_dynamo import DynamoAuditChains
from exchange.admin.auth import Operator
from exchange.apikeys.audit import ChainEvent, next_entry, security_partition, verify_security_log
from exchange.journal.audit import AuditLink
from exchange.journal.audit_log import put_audit
from exchange.orders.errors import StoreUnavailable
from tests.integration.admin.conftest import Aws

ACTION = AdminAction(Operator("olga", "sub-1"), "AML hold, case 7", "req-1")


def chains() -> DynamoAuditChains:
    return DynamoAuditChains(sleep=lambda _: None)


def test_a_freeze_is_appended_to_both_chains_and_both_verify(aws: Aws) -> None:
    events = action_events("admin_account_frozen", ACTION, 1, {"account_id": "alice"})
    first = chains().append(events, now_ns=1)
    again = chains().append(
        action_events("admin_account_unfrozen", ACTION, 2, {"account_id": "alice"}), now_ns=2
    )
    assert [(e.symbol, e.seq) for e in first + again] == [
        (OPERATORS_PARTITION, 1),
        (security_partition("alice"), 1),
        (OPERATORS_PARTITION, 2),
        (security_partition("alice"), 2),
    ]
    operators = list(chains().entries(OPERATORS_PARTITION))
    assert verify_operators_log(operators).ok
    assert verify_security_log("alice", chains().entries(security_partition("alice"))).ok


def test_a_writer_that_lost_the_seq_retries_on_the_new_head(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    chains().append(
        action_events("admin_status_set", ACTION, 1, {"symbols": ["BTC-USD"]}), now_ns=1
    )
    head = list(chains().entries(OPERATORS_PARTITION))[-1]
    stale = AuditLink(head.seq, head.hash)
    # Given another admin container appends seq 2 after this writer read seq 1 as the head
    other = ChainEvent(OPERATORS_PARTITION, "admin_status_set", {"operator": {"sub": "ivan"},
                                                                  "reason": "other"})  # fmt: skip
    put_audit(next_entry(stale, other, now_ns=2))
    reads = iter([stale])
    real_head = audit_dynamo._head

    def head_once_stale(partition: str) -> AuditLink | None:
        return next(reads, None) or real_head(partition)

    # When it appends on its stale head, then on the fresh one
    monkeypatch.setattr(audit_dynamo, "_head", head_once_stale)
    (entry,) = chains().append(
        action_events("admin_kill_switch", ACTION, 3, {"status": "HALTED"}), now_ns=3
    )
    # Then its entry is seq 3, and the chain has no fork and no gap
    assert entry.seq == 3
    assert verify_operators_log(chains().entries(OPERATORS_PARTITION)).ok


def test_both_entries_or_neither(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the account's chain has seq 1 taken, and a writer that keeps reading it as empty
    chains().append(
        action_events("admin_account_frozen", ACTION, 1, {"account_id": "bob"}), now_ns=1
    )
    real_head = audit_dynamo._head

    def stale_account_head(partition: str) -> AuditLink | None:
        return None if partition.startswith("account#") else real_head(partition)

    monkeypatch.setattr(audit_dynamo, "_head", stale_account_head)
    # When it appends a freeze: the account's put fails every time
    with pytest.raises(StoreUnavailable):
        chains().append(
            action_events("admin_account_unfrozen", ACTION, 2, {"account_id": "bob"}), now_ns=2
        )
    # Then the operators' entry was not written either
    assert [e.seq for e in chains().entries(OPERATORS_PARTITION)] == [1]


def test_the_newest_entries_page_down_the_chain(aws: Aws) -> None:
    for n in range(1, 6):
        chains().append(action_events("admin_status_set", ACTION, n, {"n": n}), now_ns=n)
    page = chains().newest(OPERATORS_PARTITION, limit=2, before_seq=None)
    assert [e.seq for e in page] == [5, 4]
    assert [e.seq for e in chains().newest(OPERATORS_PARTITION, limit=2, before_seq=4)] == [3, 2]
    assert [e.seq for e in chains().newest(OPERATORS_PARTITION, limit=9, before_seq=2)] == [1]
