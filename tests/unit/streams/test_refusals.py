"""Clearing a refused epoch (``python -m exchange.journal.refusals``) after a ``JournalSeqReused``
alarm: the cursor then admits the epoch's records again; the list shows what is refused."""

import io
import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from exchange.journal.cursors import DynamoCursorStore
from exchange.journal.refusals import main
from exchange.settings.base import AwsSettings, TableSettings
from exchange.tables import TABLE_SPECS, bind_tables


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoCursorStore]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        settings = type("Settings", (AwsSettings, TableSettings), {})(AWS_REGION="us-west-2")
        spec = next(s for s in TABLE_SPECS if s.logical_name == "cursors")
        client = boto3.client("dynamodb", region_name="us-west-2")
        client.create_table(**spec.create_table_kwargs(settings.cursors_table))
        bind_tables(settings)
        yield DynamoCursorStore()


def run(*argv: str) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    code = main(list(argv), out=out, bind=False)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_list_then_clear_a_refused_epoch(store: DynamoCursorStore) -> None:
    # Given fan-out refused epoch 1 on BTC-USD, and candles refused nothing
    store.advance("fanout", "BTC-USD", after=0, to=40, now_ns=1, epochs=((1, 0),))
    store.refuse("fanout", "BTC-USD", 1, now_ns=2)
    store.advance("candles", "BTC-USD", after=0, to=40, now_ns=1)
    # When the operator lists refusals
    code, lines = run("list")
    # Then only fan-out's shows, with where it stands
    assert code == 0
    assert lines == [{"consumer": "fanout", "symbol": "BTC-USD", "last_seq": 40,
                      "epochs": [[1, 0]], "refused_epochs": [1]}]  # fmt: skip
    # When they clear it, giving a reason
    code, lines = run("clear", "--consumer", "fanout", "--symbol", "BTC-USD", "--epoch", "1",
                      "--reason", "reconciled seqs 41-44 after the failover")  # fmt: skip
    # Then the cursor admits the epoch again, and the cursor itself has not moved
    assert code == 0
    assert lines[0]["cleared"] is True
    cursor = store.read("fanout", "BTC-USD")
    assert cursor.refused == frozenset()
    assert cursor.last_seq == 40
    # And clearing what is not refused says so and exits 1
    code, lines = run("clear", "--consumer", "fanout", "--symbol", "BTC-USD", "--epoch", "1",
                      "--reason", "again")  # fmt: skip
    assert code == 1
    assert lines[0]["cleared"] is False
