"""The admin service over in-memory ports: each action's commands reach the right symbols, its
audit entry (who, when, why, what) is written before anything happens, and refusals write
nothing."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exchange.admin.audit import OPERATORS_PARTITION, verify_operators_log
from exchange.admin.dispatch import Outcome
from exchange.admin.errors import InvalidAdminRequest, NotAnEquity
from exchange.admin.listings import parse_definition
from exchange.admin.service import DividendRequest
from exchange.apikeys.audit import security_partition, verify_security_log
from exchange.domain.commands import FreezeAccount, MassCancel, SetTradingStatus
from exchange.domain.enums import InstrumentStatus
from exchange.domain.errors import UnknownInstrument
from exchange.instruments.errors import InstrumentStoreUnavailable
from exchange.ledger.errors import UnknownAccount
from exchange.orders.errors import StoreUnavailable
from tests.unit.admin.conftest import ACME, DEMO_SYMBOLS, NOW_NS, OLGA, Admin


def operators_log(admin: Admin) -> list[dict[str, object]]:
    return [json.loads(e.payload) for e in admin.audit.chains[OPERATORS_PARTITION]]


def nothing_happened(admin: Admin) -> bool:
    return not admin.timeline and not admin.sink.sent


def test_a_status_change_is_one_command_to_the_symbol_recorded_first(admin: Admin) -> None:
    # When an operator halts BTC-USD
    dispatch = admin.service.set_status("BTC-USD", InstrumentStatus.HALTED, admin.action())
    # Then the engine gets one SetTradingStatus, after the audit entry
    (command,) = admin.sink.sent
    assert command == SetTradingStatus(
        symbol="BTC-USD",
        ts=NOW_NS,
        command_id="adm_0001",
        status=InstrumentStatus.HALTED,
        actor="olga",
        reason="incident 42: erroneous prints",
    )
    assert admin.timeline == [
        "audit:operators:admin_status_set",
        "engine:BTC-USD:SetTradingStatus",
    ]
    assert dispatch.complete
    assert dispatch.audit_seq == 1
    assert [(s.symbol, s.command_id, s.outcome) for s in dispatch.commands] == [
        ("BTC-USD", "adm_0001", Outcome.QUEUED)
    ]
    # And the entry says who, when, why and what
    (entry,) = operators_log(admin)
    assert entry == {
        "operator": {"username": "olga", "sub": OLGA.sub},
        "reason": "incident 42: erroneous prints",
        "request_id": "req-1",
        "time_ns": NOW_NS,
        "symbols": ["BTC-USD"],
        "command_ids": ["adm_0001"],
        "status": "HALTED",
        "was": "TRADING",
    }


def test_an_unknown_symbol_is_refused_before_anything_is_written(admin: Admin) -> None:
    with pytest.raises(UnknownInstrument):
        admin.service.set_status("DOGE-USD", InstrumentStatus.HALTED, admin.action())
    with pytest.raises(UnknownInstrument):
        admin.service.mass_cancel("DOGE-USD", None, admin.action())
    assert nothing_happened(admin)


def test_the_kill_switch_reaches_every_listed_symbol_including_one_listed_at_run_time(
    admin: Admin,
) -> None:
    # Given ACME-USD listed by an operator a moment ago, and XYZ-USD by another admin container
    admin.service.list_instrument("ACME-USD", ACME, admin.action())
    other = admin.catalog.get("SOL-USD").model_copy(
        update={"symbol": "SOL-BTC", "quote": "BTC", "reference_price": None, "max_price": None}
    )
    admin.store.put(other, shard="s1", version=1, actor="ivan", reason="listing")
    admin.sink.commands.clear()
    # When the kill switch halts everything
    dispatch = admin.service.kill_switch(InstrumentStatus.HALTED, admin.action())
    # Then every symbol got its SetTradingStatus, the new ones too
    halted = {c.symbol for c in admin.sink.sent if isinstance(c, SetTradingStatus)}
    assert halted == {*DEMO_SYMBOLS, "ACME-USD", "SOL-BTC"}
    assert all(
        isinstance(c, SetTradingStatus) and c.status is InstrumentStatus.HALTED
        for c in admin.sink.sent
    )
    assert dispatch.complete
    assert len(dispatch.commands) == 5
    entry = operators_log(admin)[-1]
    assert entry["symbols"] == sorted(halted)
    assert entry["command_ids"] == [s.command_id for s in dispatch.commands]


def test_the_kill_switch_leaves_a_delisted_symbol_delisted(admin: Admin) -> None:
    # Given SOL-USD delisted (the engine journaled it; the recorder wrote it to the store)
    admin.store.set_status("SOL-USD", InstrumentStatus.DELISTED, seq=40)
    # When the kill switch resumes trading everywhere
    dispatch = admin.service.kill_switch(InstrumentStatus.TRADING, admin.action())
    # Then SOL-USD got no command: resuming must not relist it
    assert [s.symbol for s in dispatch.commands] == ["BTC-USD", "ETH-USD"]


def test_a_failed_publish_on_one_symbol_does_not_hide_the_others(admin: Admin) -> None:
    admin.sink.script = ["ok", "refused", "unconfirmed"]
    dispatch = admin.service.kill_switch(InstrumentStatus.CANCEL_ONLY, admin.action())
    outcomes = {s.symbol: s.outcome for s in dispatch.commands}
    assert outcomes == {
        "BTC-USD": Outcome.QUEUED,
        "ETH-USD": Outcome.NOT_SENT,
        "SOL-USD": Outcome.UNCONFIRMED,
    }
    assert not dispatch.complete
    assert not dispatch.nothing_sent
    assert "broker_unavailable" in (dispatch.commands[1].detail or "")


def test_the_kill_switch_sets_only_cancel_only_halted_or_trading(admin: Admin) -> None:
    for status in (InstrumentStatus.POST_ONLY, InstrumentStatus.DELISTED):
        with pytest.raises(InvalidAdminRequest):
            admin.service.kill_switch(status, admin.action())
    assert nothing_happened(admin)


def test_a_symbols_mass_cancel_is_one_command_of_all_or_one_account(admin: Admin) -> None:
    admin.service.mass_cancel("ETH-USD", None, admin.action())
    admin.service.mass_cancel("ETH-USD", "alice", admin.action())
    first, second = admin.sink.sent
    assert isinstance(first, MassCancel)
    assert isinstance(second, MassCancel)
    assert (first.symbol, first.account_id) == ("ETH-USD", None)
    assert (second.symbol, second.account_id, second.actor) == ("ETH-USD", "alice", "olga")
    assert [e["account_id"] for e in operators_log(admin)] == [None, "alice"]


def test_an_accounts_orders_are_cancelled_in_every_symbol(admin: Admin) -> None:
    dispatch = admin.service.cancel_account_orders("bob", admin.action())
    assert {(c.symbol, c.account_id) for c in admin.sink.sent if isinstance(c, MassCancel)} == {
        (symbol, "bob") for symbol in DEMO_SYMBOLS
    }
    assert len({s.command_id for s in dispatch.commands}) == 3


def test_an_unknown_account_is_refused_before_anything_is_written(admin: Admin) -> None:
    for act in (
        lambda: admin.service.cancel_account_orders("mallory", admin.action()),
        lambda: admin.service.mass_cancel("BTC-USD", "mallory", admin.action()),
        lambda: admin.service.freeze("mallory", admin.action()),
        lambda: admin.service.unfreeze("mallory", admin.action()),
    ):
        with pytest.raises(UnknownAccount):
            act()
    assert nothing_happened(admin)


def test_a_freeze_is_recorded_then_done_in_the_ledger_then_in_every_engine(admin: Admin) -> None:
    result = admin.service.freeze("alice", admin.action("AML hold, case 7"))
    # Then: the audit entries, then the ledger, then one FreezeAccount per symbol
    assert admin.timeline == [
        "audit:operators:admin_account_frozen",
        "audit:account#alice:admin_account_frozen",
        "ledger:alice:freeze",
        *(f"engine:{symbol}:FreezeAccount" for symbol in DEMO_SYMBOLS),
    ]
    assert admin.ledger.is_frozen("alice")
    assert result.changed
    assert result.dispatch.complete
    assert all(
        isinstance(c, FreezeAccount) and c.account_id == "alice" and c.frozen
        for c in admin.sink.sent
    )
    assert admin.ledger.freeze_events[-1].actor == "olga"
    # And the account's own chain holds the same entry, and still verifies
    account_chain = admin.audit.chains[security_partition("alice")]
    assert json.loads(account_chain[0].payload) == operators_log(admin)[0]
    assert operators_log(admin)[0]["reason"] == "AML hold, case 7"
    assert verify_security_log("alice", account_chain).ok


def test_an_unfreeze_goes_the_same_way_and_a_repeat_changes_nothing_in_the_ledger(
    admin: Admin,
) -> None:
    admin.service.freeze("bob", admin.action())
    again = admin.service.freeze("bob", admin.action())
    assert not again.changed
    assert len(again.dispatch.commands) == 3  # the engines are told again
    admin.timeline.clear()
    admin.sink.commands.clear()
    result = admin.service.unfreeze("bob", admin.action())
    assert result.changed
    assert not admin.ledger.is_frozen("bob")
    assert admin.timeline[:3] == [
        "audit:operators:admin_account_unfrozen",
        "audit:account#bob:admin_account_unfrozen",
        "ledger:bob:unfreeze",
    ]
    assert all(isinstance(c, FreezeAccount) and not c.frozen for c in admin.sink.sent)
    assert operators_log(admin)[-1]["was_frozen"] is True


def test_an_unreadable_store_stops_a_kill_switch_or_freeze_before_anything_is_done(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ACME-USD listed by another admin container, and the store unreadable since: the
    # live catalog then serves its last good read, which has no ACME-USD
    admin.catalog.refresh()
    admin.store.put(
        parse_definition("ACME-USD", ACME), shard="s2", version=1, actor="ivan", reason="listing"
    )

    def unreadable() -> list[object]:
        raise InstrumentStoreUnavailable("throttled")

    monkeypatch.setattr(admin.store, "listings", unreadable)
    # When an operator pulls the kill switch, freezes an account or cancels its orders
    for act in (
        lambda: admin.service.kill_switch(InstrumentStatus.HALTED, admin.action()),
        lambda: admin.service.freeze("alice", admin.action()),
        lambda: admin.service.cancel_account_orders("alice", admin.action()),
    ):
        # Then it fails (503) rather than reach every symbol but ACME-USD and say "complete"
        with pytest.raises(InstrumentStoreUnavailable):
            act()
    assert nothing_happened(admin)
    assert not admin.ledger.is_frozen("alice")


def test_no_entry_no_action(admin: Admin) -> None:
    # When the audit log cannot be written, nothing is done
    admin.audit.fail = True
    with pytest.raises(StoreUnavailable):
        admin.service.kill_switch(InstrumentStatus.HALTED, admin.action())
    with pytest.raises(StoreUnavailable):
        admin.service.freeze("alice", admin.action())
    assert not admin.sink.sent
    assert not admin.ledger.is_frozen("alice")
    assert not admin.ledger.freeze_events


def test_a_dividend_is_declared_in_the_ledger_on_an_equity_only(admin: Admin) -> None:
    admin.service.list_instrument("ACME-USD", ACME, admin.action())
    record = datetime.now(UTC) + timedelta(minutes=1)
    request = _dividend(record)
    dividend = admin.service.declare_dividend(request, admin.action("Q1 dividend"))
    assert (dividend.dividend_id, dividend.status, dividend.actor) == ("div_q1", "DECLARED", "olga")
    assert admin.service.dividends("ACME-USD") == [dividend]
    entry = operators_log(admin)[-1]
    assert (entry["dividend_id"], entry["amount_per_unit"], entry["reason"]) == (
        "div_q1",
        "0.25",
        "Q1 dividend",
    )
    with pytest.raises(NotAnEquity):
        admin.service.declare_dividend(replace(request, symbol="BTC-USD"), admin.action())
    with pytest.raises(UnknownInstrument):
        admin.service.declare_dividend(replace(request, symbol="XYZ-USD"), admin.action())


def test_the_audit_log_pages_newest_first_and_verifies_the_whole_chain(admin: Admin) -> None:
    for symbol in DEMO_SYMBOLS:
        admin.service.set_status(symbol, InstrumentStatus.POST_ONLY, admin.action())
    first = admin.service.audit_log(limit=2)
    assert [e.seq for e in first.entries] == [3, 2]
    assert first.next_before == 2
    second = admin.service.audit_log(limit=2, before=first.next_before)
    assert [e.seq for e in second.entries] == [1]
    assert second.next_before is None
    assert first.report.ok
    assert first.report.head_seq == 3
    # A changed entry breaks the verification
    chain = admin.audit.chains[OPERATORS_PARTITION]
    chain[1] = replace(chain[1], payload=chain[1].payload.replace(b"olga", b"ivan"))
    report = admin.service.audit_log(limit=10).report
    assert not report.ok
    assert report.broken_at == 2
    assert not verify_operators_log(chain).ok


def _dividend(record: datetime) -> DividendRequest:
    return DividendRequest(
        symbol="ACME-USD",
        amount_per_unit=Decimal("0.25"),
        record_time=record,
        pay_time=record + timedelta(minutes=5),
        issuer_account_id="issuer",
        dividend_id="div_q1",
    )
