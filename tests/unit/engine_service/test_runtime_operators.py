"""The engine runtime with operators' commands: a symbol listed at run time is journaled,
published, snapshotted and recovered after a restart like a static one; the instruments store's
listings of the shard are replayed and adopted at start; a kill with operators' commands in
flight recovers to the uninterrupted run."""

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest

from engine_service.adapters.memory import InMemoryBroker, InMemoryJournal, InMemorySnapshotStore
from engine_service.core import Engine
from engine_service.ports import JournalPosition
from engine_service.runtime import EngineRuntime, RuntimeConfig
from engine_service.snapshot import decode_snapshot
from engine_service.telemetry import MetricsReporter
from exchange import wire
from exchange.domain import (
    AssetClass,
    EngineCommand,
    Instrument,
    InstrumentListed,
    InstrumentStatus,
    ListInstrument,
    NewOrder,
    OrderType,
    SetTradingStatus,
    Side,
    TimeInForce,
)
from exchange.instruments.store import InMemoryInstrumentStore
from tests.unit.engine_service.operator_drill import with_operators
from tests.unit.engine_service.test_runtime import (
    BTC,
    CATALOG,
    SHARD,
    Books,
    FakeClock,
    Killed,
    KilledAfterWrite,
    commands,
    journaled,
    publish,
    run_until_idle,
)

ACME = Instrument(
    symbol="ACME-USD",
    base="ACME",
    quote="USD",
    tick_size=Decimal("0.01"),
    lot_size=Decimal(1),
    min_qty=Decimal(1),
    max_qty=Decimal(1000),
    price_band_pct=Decimal(10),
    reference_price=Decimal(50),
    asset_class=AssetClass.EQUITY,
)


class Beats:
    def __init__(self) -> None:
        self.seqs: list[dict[str, int]] = []

    def beat(self, seqs: Mapping[str, int], status: str) -> None:
        self.seqs.append(dict(seqs))

    def close(self) -> None:
        pass


class Parts:
    """One shard's broker, journal, snapshot store, published books and heartbeats, which
    outlive the runtimes started on them."""

    def __init__(self) -> None:
        self.broker = InMemoryBroker()
        self.journal = InMemoryJournal()
        self.snapshots = InMemorySnapshotStore()
        self.books = Books()
        self.beats = Beats()
        self.store = InMemoryInstrumentStore(clock=lambda: 7)

    def runtime(self, *, store: bool = False, **config: object) -> EngineRuntime:
        runtime = EngineRuntime(
            config=RuntimeConfig(**{"shard": SHARD, "linger_s": 0.0, **config}),  # type: ignore[arg-type]
            instruments=list(CATALOG),
            intake=self.broker.intake(SHARD),
            journal=self.journal,
            snapshots=self.snapshots,
            clock=FakeClock(),
            books=self.books,
            heartbeat=self.beats,
            listings=self.store if store else None,
        )
        runtime.recover()
        runtime.connect()
        return runtime

    def publish(self, cmds: Sequence[EngineCommand]) -> None:
        publish(self.broker, cmds)  # type: ignore[arg-type]


@pytest.fixture
def parts() -> Parts:
    return Parts()


def list_acme(version: int = 1, instrument: Instrument = ACME) -> ListInstrument:
    return ListInstrument(
        symbol="ACME-USD",
        ts=1,
        command_id=f"list:ACME-USD:{version}",
        instrument=instrument.model_dump_json(),
        version=version,
        actor="ops",
    )


def acme_order(order_id: str, side: Side, qty: int, account: str) -> NewOrder:
    return NewOrder(
        symbol="ACME-USD",
        ts=2,
        order_id=order_id,
        account_id=account,
        client_order_id=order_id,
        side=side,
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        qty=qty,
        price=5000,
    )


def test_a_symbol_listed_at_run_time_is_journaled_published_snapshotted_and_recovered(
    parts: Parts,
) -> None:
    # Given a running shard that lists ACME-USD, then takes orders in it
    first = parts.runtime()
    parts.publish([list_acme(), acme_order("o1", Side.SELL, 5, "alice")])
    run_until_idle(first, parts.broker)
    first.step()  # a beat
    # Then its events are journaled under its own symbol, from seq 1
    records = [r for r in parts.journal.records() if r.symbol == "ACME-USD"]
    events = [e for r in records for e in r.events]
    assert (type(events[0]), [e.seq for e in events]) == (InstrumentListed, [1, 2, 3])
    # And a snapshot was taken at once, its L2 book published and its seq in the heartbeat
    snapshot = decode_snapshot(parts.snapshots.snapshots[SHARD][0])
    assert "ACME-USD" in snapshot.seqs
    assert "ACME-USD" in [book.symbol for book in parts.books.published[0]]
    assert parts.beats.seqs[-1]["ACME-USD"] == 3
    # When the shard restarts, then goes on trading ACME-USD
    second = parts.runtime()
    assert second.engine.snapshot() == first.engine.snapshot()
    parts.publish([acme_order("o2", Side.BUY, 2, "bob")])
    run_until_idle(second, parts.broker)
    # Then nothing was dead-lettered, and it traded
    assert SHARD not in parts.broker.dead_letters
    assert second.engine.l2("ACME-USD").asks[0].qty == 3


def test_a_restart_without_a_snapshot_replays_the_shards_new_symbols_named_by_the_store(
    parts: Parts,
) -> None:
    # Given ACME-USD listed on this shard and XYZ on another, both journaled on the shared
    # stream, and no snapshot to restart from
    other = Instrument.model_validate({**ACME.model_dump(), "symbol": "XYZ-USD", "base": "XYZ"})
    parts.store.put(ACME, shard=SHARD, version=1, actor="ops", reason="listing")
    parts.store.put(other, shard="s2", version=1, actor="ops", reason="listing")
    first = parts.runtime()
    parts.publish([list_acme(), acme_order("o1", Side.SELL, 5, "alice")])
    run_until_idle(first, parts.broker)
    elsewhere = Engine([])
    foreign = elsewhere.apply(
        ListInstrument(
            symbol="XYZ-USD", ts=1, command_id="x", instrument=other.model_dump_json(), version=1,
            actor="ops",
        )
    )  # fmt: skip
    parts.journal.append([wire.JournalRecord.of(foreign)])
    parts.snapshots.snapshots.clear()
    # When it restarts reading the store
    second = parts.runtime(store=True)
    # Then it rebuilt ACME-USD from the journal, and left the other shard's symbol alone
    assert second.engine.snapshot() == first.engine.snapshot()
    assert second.counters.replayed_events > 0
    assert "XYZ-USD" not in second.engine.books


def test_the_stores_listings_the_engine_lacks_are_adopted_once_with_the_admins_ids(
    parts: Parts,
) -> None:
    # Given the store holds ACME-USD (listed on this shard, its publish lost), a newer BTC-USD
    # and a symbol of another shard
    changed_btc = BTC.model_copy(update={"taker_fee_bps": 9})
    parts.store.put(ACME, shard=SHARD, version=1, actor="ops", reason="new listing")
    parts.store.put(BTC, shard=SHARD, version=1, actor="seed", reason="seeded")
    parts.store.put(changed_btc, shard=SHARD, version=2, actor="ops", reason="fees")
    other = Instrument.model_validate({**ACME.model_dump(), "symbol": "XYZ-USD", "base": "XYZ"})
    parts.store.put(other, shard="s2", version=1, actor="ops", reason="elsewhere")
    # When the shard starts reading the store
    runtime = parts.runtime(store=True)
    # Then it journals its own listings as the admin would have, newest version only
    listed = [e for e in journaled(parts.journal) if isinstance(e, InstrumentListed)]
    assert [(e.symbol, e.version, e.command_id, e.actor) for e in listed] == [
        ("ACME-USD", 1, "list:ACME-USD:1", "ops"),
        ("BTC-USD", 2, "list:BTC-USD:2", "ops"),
    ]
    assert runtime.engine.books["BTC-USD"].instrument.taker_fee_bps == 9
    assert "XYZ-USD" not in runtime.engine.books
    assert runtime.counters.operator_commands == 2
    # And the admin's own command, arriving late, is a duplicate; a restart adopts nothing more
    parts.publish([list_acme()])
    run_until_idle(runtime, parts.broker)
    assert runtime.counters.duplicates == 1
    again = parts.runtime(store=True)
    assert again.engine.snapshot() == runtime.engine.snapshot()
    assert [e for e in journaled(parts.journal) if isinstance(e, InstrumentListed)] == listed


def test_a_new_listing_the_engine_refuses_is_dead_lettered_and_journals_nothing(
    parts: Parts,
) -> None:
    runtime = parts.runtime()
    wrong = ListInstrument(
        symbol="ACME-USD", ts=1, command_id="list:ACME-USD:1", instrument="{}", version=1,
        actor="ops",
    )  # fmt: skip
    parts.publish([wrong])
    run_until_idle(runtime, parts.broker)
    assert len(parts.broker.dead_letters[SHARD]) == 1
    assert parts.journal.payloads == []
    assert "ACME-USD" not in runtime.engine.books


def test_operator_commands_are_counted_and_reported(
    parts: Parts, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = parts.runtime()
    halt = SetTradingStatus(
        symbol="BTC-USD", ts=1, command_id="adm_1", status=InstrumentStatus.HALTED, actor="ops"
    )
    parts.publish([*commands(10), halt, list_acme()])
    run_until_idle(runtime, parts.broker)
    assert (runtime.counters.commands, runtime.counters.operator_commands) == (12, 2)
    capsys.readouterr()
    MetricsReporter(runtime).report(1.0)
    emitted = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert emitted["OperatorCommands"] in (2, [2.0])


@pytest.mark.parametrize("kill_on_write", [3, 11])
def test_kill_with_operators_commands_in_flight_recovers_to_the_uninterrupted_run(
    parts: Parts, kill_on_write: int
) -> None:
    # Given a stream with operators' commands mixed in, and a journal that dies after a write
    cmds = list(with_operators(BTC, commands(3_000), every=97))
    parts.journal = KilledAfterWrite(kill_on_write)
    parts.publish(cmds)
    first = parts.runtime(poll_max=100, snapshot_every_events=400)

    def run_until_killed() -> None:
        for _ in range(1_000):
            first.step()

    with pytest.raises(Killed):
        run_until_killed()
    first._intake.disconnect()  # type: ignore[attr-defined]  # its unacked commands come again
    # When a new runtime recovers and carries on
    second = parts.runtime(poll_max=100, snapshot_every_events=400)
    run_until_idle(second, parts.broker)
    second.flush()
    # Then the journal and the state equal an uninterrupted run's
    expected = Engine(list(CATALOG))
    assert journaled(parts.journal) == [e for c in cmds for e in expected.apply(c)]
    assert second.engine.snapshot() == expected.snapshot()
    assert second.counters.operator_commands > 0
    assert JournalPosition() != second.position
