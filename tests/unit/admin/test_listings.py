"""Listing a new instrument and changing a listed one: the store's version, the engine's
``ListInstrument`` (command id ``list:<symbol>:<version>``), what is fixed once listed, assets
the ledger must know, shards, and the retry of a listing whose publish failed."""

import json

import pytest

from exchange.admin.audit import OPERATORS_PARTITION
from exchange.admin.dispatch import Outcome
from exchange.admin.errors import InvalidAdminRequest, UnknownAsset, UnknownShard
from exchange.domain.commands import ListInstrument
from exchange.domain.enums import AssetClass, InstrumentStatus
from exchange.domain.errors import InvalidInstrument
from exchange.domain.instruments import Instrument
from exchange.instruments.errors import ImmutableField, VersionConflict
from tests.unit.admin.conftest import ACME, NOW_NS, Admin


def listed(admin: Admin) -> list[ListInstrument]:
    return [c for c in admin.sink.sent if isinstance(c, ListInstrument)]


def test_a_new_symbol_is_stored_as_version_1_on_the_least_loaded_shard_then_sent(
    admin: Admin,
) -> None:
    result = admin.service.list_instrument("ACME-USD", ACME, admin.action("list ACME"))
    # The store has version 1 on s2 (s1 trades the three demo symbols, s2 none)
    current = admin.store.get("ACME-USD")
    assert current is not None
    assert (current.version, current.shard, current.actor, current.reason) == (
        1,
        "s2",
        "olga",
        "list ACME",
    )
    assert current.instrument.asset_class is AssetClass.EQUITY
    # The engine gets the stored definition, with the deterministic command id
    (command,) = listed(admin)
    assert command.command_id == "list:ACME-USD:1"
    assert command.version == 1
    assert Instrument.model_validate_json(command.instrument) == current.instrument
    assert (command.ts, command.actor, command.reason) == (NOW_NS, "olga", "list ACME")
    assert not result.republished
    assert result.command.outcome is Outcome.QUEUED
    # The entry came first and names the version, the shard and the definition
    assert admin.timeline[0] == "audit:operators:admin_instrument_listed"
    entry = json.loads(admin.audit.chains[OPERATORS_PARTITION][0].payload)
    assert (entry["version"], entry["shard"], entry["command_ids"]) == (
        1,
        "s2",
        ["list:ACME-USD:1"],
    )
    assert entry["instrument"]["tick_size"] == "0.01"
    # And the catalog serves it at once
    assert admin.catalog.listing("ACME-USD").version == 1


def test_a_shard_asked_for_is_used_and_one_that_does_not_exist_is_refused(admin: Admin) -> None:
    admin.service.list_instrument("ACME-USD", ACME, admin.action(), shard="s1")
    assert admin.catalog.listing("ACME-USD").shard == "s1"
    with pytest.raises(UnknownShard):
        admin.service.list_instrument(
            "ACME-BTC", {**ACME, "quote": "BTC"}, admin.action(), shard="s9"
        )


def test_a_change_of_fees_is_the_next_version_with_the_status_in_force(admin: Admin) -> None:
    admin.service.set_status("BTC-USD", InstrumentStatus.HALTED, admin.action())
    admin.store.set_status("BTC-USD", InstrumentStatus.HALTED, seq=10)  # as the recorder would
    spec = admin.catalog.get("BTC-USD").model_dump(mode="json", exclude={"status"})
    result = admin.service.list_instrument("BTC-USD", {**spec, "taker_fee_bps": 7}, admin.action())
    assert result.listing.version == 2
    assert result.listing.shard == "s1"
    (command,) = listed(admin)
    assert command.command_id == "list:BTC-USD:2"
    sent = Instrument.model_validate_json(command.instrument)
    assert sent.taker_fee_bps == 7
    assert sent.status is InstrumentStatus.HALTED


@pytest.mark.parametrize(
    ("field", "value"),
    [("tick_size", "0.1"), ("lot_size", "0.00001"), ("asset_class", "EQUITY")],
)
def test_what_is_fixed_at_listing_cannot_change(admin: Admin, field: str, value: str) -> None:
    spec = admin.catalog.get("BTC-USD").model_dump(mode="json", exclude={"status"})
    with pytest.raises(ImmutableField):
        admin.service.list_instrument("BTC-USD", {**spec, field: value}, admin.action())
    assert [v.version for v in admin.store.history("BTC-USD")] == [1]
    assert not admin.sink.sent
    assert not admin.timeline


def test_a_symbol_stays_on_its_shard(admin: Admin) -> None:
    spec = admin.catalog.get("ETH-USD").model_dump(mode="json", exclude={"status"})
    with pytest.raises(ImmutableField):
        admin.service.list_instrument("ETH-USD", spec, admin.action(), shard="s2")


def test_a_version_other_than_the_next_is_a_conflict(admin: Admin) -> None:
    spec = admin.catalog.get("SOL-USD").model_dump(mode="json", exclude={"status"})
    changed = {**spec, "maker_fee_bps": 0}
    for version in (1, 3, 7):
        with pytest.raises(VersionConflict):
            admin.service.list_instrument("SOL-USD", changed, admin.action(), version=version)
    with pytest.raises(VersionConflict):
        admin.service.list_instrument("ACME-USD", ACME, admin.action(), version=2)
    assert not admin.sink.sent
    assert not admin.timeline
    assert (
        admin.service.list_instrument("SOL-USD", changed, admin.action(), version=2).listing.version
        == 2
    )


def test_a_concurrent_write_of_the_same_version_is_a_conflict(admin: Admin) -> None:
    spec = admin.catalog.get("SOL-USD").model_dump(mode="json", exclude={"status"})
    admin.store.put(
        admin.catalog.get("SOL-USD").model_copy(update={"maker_fee_bps": 1}),
        shard="s1",
        version=2,
        actor="ivan",
        reason="raced",
    )
    with pytest.raises(VersionConflict):
        admin.service.list_instrument(
            "SOL-USD", {**spec, "maker_fee_bps": 0}, admin.action(), version=2
        )


def test_base_and_quote_must_be_assets_the_ledger_keeps(admin: Admin) -> None:
    with pytest.raises(UnknownAsset, match="DOGE"):
        admin.service.list_instrument("DOGE-USD", {**ACME, "base": "DOGE"}, admin.action())
    with pytest.raises(UnknownAsset, match="EUR"):
        admin.service.list_instrument("ACME-EUR", {**ACME, "quote": "EUR"}, admin.action())
    assert admin.store.get("DOGE-USD") is None
    assert not admin.timeline


@pytest.mark.parametrize(
    "change",
    [
        {"lot_size": "0.5", "min_qty": "1"},  # ACME is kept in whole shares (scale 0)
        {"tick_size": "0.000000001", "reference_price": "25"},  # finer than USD's 8 decimals
    ],
    ids=["lot", "notional"],
)
def test_a_listing_the_ledger_cannot_hold_exactly_is_refused_before_it_is_stored(
    admin: Admin, change: dict[str, str]
) -> None:
    # A tick and a lot are fixed once listed: such a symbol could never be reserved or settled
    with pytest.raises(InvalidInstrument, match="ledger cannot hold"):
        admin.service.list_instrument("ACME-USD", {**ACME, **change}, admin.action())
    assert admin.store.get("ACME-USD") is None
    assert not admin.timeline


@pytest.mark.parametrize(
    "spec",
    [
        {**ACME, "min_qty": "20000"},  # above max_qty
        {**ACME, "tick_size": "-1"},
        {**ACME, "surprise": "1"},  # an unknown field
        {**ACME, "symbol": "ACME-BTC"},  # another symbol than the path's
        {**ACME, "tick_size": 0.01},  # a float, not a decimal string
    ],
)
def test_an_invalid_definition_is_refused(admin: Admin, spec: dict[str, object]) -> None:
    with pytest.raises(InvalidInstrument):
        admin.service.list_instrument("ACME-USD", spec, admin.action())
    assert admin.store.get("ACME-USD") is None
    assert not admin.timeline


def test_a_change_may_not_set_the_status(admin: Admin) -> None:
    spec = admin.catalog.get("BTC-USD").model_dump(mode="json")
    with pytest.raises(InvalidAdminRequest, match="status"):
        admin.service.list_instrument("BTC-USD", {**spec, "status": "HALTED"}, admin.action())
    # naming the status in force is no change of it
    assert (
        admin.service.list_instrument(
            "BTC-USD", {**spec, "status": "TRADING", "taker_fee_bps": 6}, admin.action()
        ).listing.version
        == 2
    )


def test_a_failed_publish_after_the_store_write_is_retried_by_the_same_request(
    admin: Admin,
) -> None:
    # Given a listing whose publish the broker refused
    admin.sink.script = ["refused"]
    failed = admin.service.list_instrument("ACME-USD", ACME, admin.action())
    assert failed.dispatch.nothing_sent
    assert failed.listing.version == 1
    assert not listed(admin)
    # When the operator sends the same request again (with or without the version)
    again = admin.service.list_instrument("ACME-USD", ACME, admin.action())
    once_more = admin.service.list_instrument("ACME-USD", ACME, admin.action(), version=1)
    # Then version 1 is sent again, under the same command id, and nothing new is stored
    assert again.republished
    assert once_more.republished
    assert [c.command_id for c in listed(admin)] == ["list:ACME-USD:1", "list:ACME-USD:1"]
    assert [v.version for v in admin.store.history("ACME-USD")] == [1]
    assert listed(admin)[0].instrument == listed(admin)[1].instrument
    # A different definition with the version in force is a conflict, not a republish
    with pytest.raises(VersionConflict):
        admin.service.list_instrument(
            "ACME-USD", {**ACME, "max_qty": "500"}, admin.action(), version=1
        )


def test_the_detail_and_history_of_an_instrument(admin: Admin) -> None:
    spec = admin.catalog.get("ETH-USD").model_dump(mode="json", exclude={"status"})
    admin.service.list_instrument("ETH-USD", {**spec, "maker_fee_bps": 1}, admin.action())
    listing, history = admin.service.instrument("ETH-USD")
    assert listing.version == 2
    assert [v.version for v in history] == [1, 2]
    assert [v.actor for v in history] == ["seed", "olga"]
    markets = admin.service.markets()
    assert [m.symbol for m in markets] == ["BTC-USD", "ETH-USD", "SOL-USD"]
    assert {m.symbol: m.version for m in markets}["ETH-USD"] == 2
