"""The recorder, candle and fan-out handlers on moto's Kinesis and DynamoDB: a batch with a
poison record in the middle, then the same batch again."""

import json
from typing import Any, cast

import msgspec
import pytest

from exchange.journal import audit_log as audit
from exchange.journal.cursors import DynamoCursorStore
from exchange.realtime.connections import DynamoConnectionStore
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.session import open_connection
from exchange.settings import CandlesSettings, RecorderSettings
from exchange.tables import AuditRecord, CandleRecord, FillRecord, OrderRecord, symbol_status_key
from exchange.testing.stores import InMemoryBookStore, InMemorySender
from exchange.wire import JournalRecord
from lambdas.candles.handler import compose as build_candles
from lambdas.candles.handler import handler as candles_handler
from lambdas.fanout.handler import handler as fanout_handler
from lambdas.recorder.handler import compose as build_recorder
from lambdas.recorder.handler import handler as recorder_handler
from tests.integration.streams.conftest import Aws
from tests.integration.streams.test_management_api import received
from tests.unit.streams.helpers import (
    BTC,
    CATALOG,
    POISON,
    LambdaContext,
    busy_market,
    encoded,
    failures,
    records,
)

CONTEXT = LambdaContext()


def poisoned_batch(aws: Aws) -> tuple[dict[str, Any], str]:
    payloads = encoded(records(busy_market().events, 3))
    event = aws.journal_batch([*payloads[:3], POISON, *payloads[3:]])
    return event, event["Records"][3]["kinesis"]["sequenceNumber"]


def write_pending_rows() -> None:
    """What the REST API writes before it publishes each order."""
    market = busy_market()
    for order_id, command in market.orders.items():
        OrderRecord(
            command.account_id,
            order_id,
            symbol_status=symbol_status_key("BTC-USD", "PENDING_NEW", order_id),
            client_order_id=command.client_order_id,
            symbol="BTC-USD",
            status="PENDING_NEW",
            side=command.side.value,
            order_type=command.order_type.value,
            tif=command.tif.value,
            qty=BTC.format_qty(command.qty),
            price=None if command.price is None else BTC.format_price(command.price),
            created_ns=command.ts,
            updated_ns=command.ts,
            open_order_id=order_id,
        ).save()


def test_recorder_reports_only_the_poison_record_and_a_replay_changes_no_table(aws: Aws) -> None:
    # Given the orders as the API wrote them, and a journal batch with a poison record inside
    write_pending_rows()
    batch, poison = poisoned_batch(aws)
    sink = build_recorder(RecorderSettings())
    # When the recorder's handler consumes it
    first = recorder_handler(batch, CONTEXT, sink=sink)
    # Then only the poison record is reported failed
    assert failures(first) == [poison]
    after_first = aws.dump()
    # And the orders, fills and audit log are written
    statuses = {row.order_id: (row.status, row.filled_qty) for row in OrderRecord.scan()}
    assert statuses == {
        "o1": ("FILLED", "0.5000"),
        "o2": ("FILLED", "0.3000"),
        "o3": ("FILLED", "0.6000"),
        "o4": ("CANCELLED", "0.0000"),
        "o5": ("EXPIRED", "0.2000"),
    }
    carol = sorted(
        (int(r.seq), str(r.role), str(r.price), str(r.qty), str(r.fee))
        for r in FillRecord.query("carol")
    )
    assert carol[0] == (6, "TAKER", "65000.00", "0.5000", "16.25000000")
    assert len(after_first["audit"]) == len(after_first["events"]) == 19
    # When Lambda delivers the same batch again
    second = recorder_handler(batch, CONTEXT, sink=build_recorder(RecorderSettings()))
    # Then the same record fails, and every table is exactly as it was
    assert failures(second) == [poison]
    assert aws.dump() == after_first


def test_recorder_posts_each_accounts_orders_once_recorded(aws: Aws) -> None:
    # Given the recorder as composed in AWS (with the Management API endpoint), and carol
    # subscribed to her orders
    write_pending_rows()
    connections = DynamoConnectionStore()
    connections.subscribe(open_connection(connections, "c-carol", "carol"), "orders.carol")
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    sink = build_recorder(RecorderSettings(ws_management_endpoint=endpoint))
    batch, poison = poisoned_batch(aws)
    # When the handler consumes the batch twice
    assert failures(recorder_handler(batch, CONTEXT, sink=sink)) == [poison]
    posted = received("c-carol")
    assert failures(recorder_handler(batch, CONTEXT, sink=sink)) == [poison]
    # Then carol got her orders once, with her client order ids and the fills' recorded fees
    assert received("c-carol") == posted
    items = [item for frame in posted for item in cast(list[dict[str, Any]], frame["events"])]
    assert {(i["order_id"], i["client_order_id"]) for i in items} == {("o3", "c-o3"),
                                                                      ("o5", "c-o5")}  # fmt: skip
    fees = {(i["seq"], i["fee"]) for i in items if i["event"] == "fill"}
    assert fees == {(int(r.seq), r.fee) for r in FillRecord.query("carol")}


def test_audit_verify_command_finds_the_record_someone_changed(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a recorded journal with an intact audit chain
    batch, _ = poisoned_batch(aws)
    recorder_handler(batch, CONTEXT, sink=build_recorder(RecorderSettings()))
    assert audit.main(["verify", "--symbol", "BTC-USD"]) == 0
    intact = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (intact["ok"], intact["checked"], intact["head_seq"]) == (True, 19, 19)
    # When someone edits the payload of seq 10 in the table (dave's order becomes mike's)
    row = AuditRecord.get("BTC-USD", 10)
    assert b"dave" in row.payload
    row.update(actions=[AuditRecord.payload.set(row.payload.replace(b"dave", b"mike"))])
    # Then the command fails and names seq 10
    assert audit.main(["verify", "--symbol", "BTC-USD"]) == 1
    broken = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (broken["ok"], broken["broken_at"], broken["checked"]) == (False, 10, 9)


def test_candles_report_only_the_poison_record_and_a_replay_changes_no_bar(aws: Aws) -> None:
    batch, poison = poisoned_batch(aws)
    settings = CandlesSettings()
    assert failures(candles_handler(batch, CONTEXT, sink=build_candles(settings))) == [poison]
    bars = aws.dump()["candles"]
    assert len(bars) == 4  # one bar per interval: the three trades are seconds apart
    day = next(row for row in CandleRecord.scan() if row.series == "BTC-USD#1d")
    assert (day.open, day.high, day.low, day.close, day.volume, day.trades) == (
        "65000.00", "65010.00", "65000.00", "65010.00", "0.8000", 3,
    )  # fmt: skip
    assert failures(candles_handler(batch, CONTEXT, sink=build_candles(settings))) == [poison]
    assert aws.dump()["candles"] == bars


def test_fanout_reports_only_the_poison_record_and_a_replay_posts_nothing_again(aws: Aws) -> None:
    # Given a book subscriber and a private subscriber stored in DynamoDB
    connections = DynamoConnectionStore()
    for connection_id, account in (("c-book", None), ("c-carol", "carol")):
        connection = open_connection(connections, connection_id, account)
        channel = "book.BTC-USD" if account is None else "orders.carol"
        connections.subscribe(connection, channel)
    sender = InMemorySender()
    fanout = Fanout(
        Broadcaster(connections, sender), InMemoryBookStore(), DynamoCursorStore(), catalog=CATALOG
    )
    batch, poison = poisoned_batch(aws)
    # When fan-out consumes the batch twice
    assert failures(fanout_handler(batch, CONTEXT, sink=fanout)) == [poison]
    posted = list(sender.sent)
    assert failures(fanout_handler(batch, CONTEXT, sink=fanout)) == [poison]
    # Then every record was posted once: book frames chain 0..19, one per run of chaining
    # records (the poison record ends the first run; exchange.journal.batch.merge_runs); carol's
    # orders are the recorder's to post (test_recorder_posts_each_accounts_orders_once_recorded)
    assert sender.sent == posted
    book = [json.loads(data) for cid, data in posted if cid == "c-book"]
    assert [(frame["prev_seq"], frame["seq"]) for frame in book] == [(0, 9), (9, 19)]
    assert [cid for cid, _ in posted if cid == "c-carol"] == []


def test_recorder_refuses_other_events_at_seqs_its_audit_log_holds(aws: Aws) -> None:
    # Given the primary's journal recorded (the audit log on DynamoDB holds seqs 1..19)
    write_pending_rows()
    events = busy_market().events
    assert failures(recorder_handler(aws.journal_batch(encoded(records(events, 3))), CONTEXT,
                                     sink=build_recorder(RecorderSettings()))) == []  # fmt: skip
    recorded = aws.dump()
    # When the DR engine (epoch 1) journals seqs 18..19 again, once with the very events and
    # once with others (seq 19 an event of another kind)
    same = JournalRecord.of(events[17:19], epoch=1)
    other = JournalRecord.of([events[17], msgspec.structs.replace(events[0], seq=19)], epoch=1)
    batch = aws.journal_batch(encoded([same, other]))
    response = recorder_handler(batch, CONTEXT, sink=build_recorder(RecorderSettings()))
    # Then the same events are duplicates, the others fail, and no table changed
    assert failures(response) == [batch["Records"][-1]["kinesis"]["sequenceNumber"]]
    assert aws.dump() == recorded
