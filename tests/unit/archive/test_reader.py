"""Reading the archive back: (symbol, seq) order, each event once however often the files hold
it (Firehose delivers at least once; a local rewrite may cut files differently), a symbol filter,
and a loud error when two copies of one seq disagree."""

from pathlib import Path

import pytest

from exchange.archive.parquet import write_partition
from exchange.archive.reader import read_events
from exchange.archive.schema import to_row
from exchange.domain import BookDelta, Side, WireFormatError
from tests.unit.archive.history import archive, history


def delta(symbol: str, seq: int, qty: int = 1) -> BookDelta:
    return BookDelta(symbol=symbol, ts=seq, seq=seq, side=Side.BUY, price=10, qty=qty, orders=1)


def write(root: Path, *events: BookDelta, date: str = "1970-01-01") -> None:
    partition = {"symbol": events[0].symbol, "date": date}
    write_partition(root, partition, [to_row(event) for event in events])


def test_events_come_in_symbol_then_seq_order_each_once(tmp_path: Path) -> None:
    # Given overlapping files, a duplicated file under another date, and two symbols
    write(tmp_path, *(delta("ETH-USD", s) for s in (3, 4, 5)))
    write(tmp_path, *(delta("ETH-USD", s) for s in (1, 2, 3)))
    write(tmp_path, *(delta("ETH-USD", s) for s in (1, 2, 3)), date="1970-01-02")
    write(tmp_path, *(delta("BTC-USD", s) for s in (1, 2)))
    # When the archive is read
    read = [(event.symbol, event.seq) for event in read_events(tmp_path)]
    # Then every (symbol, seq) is there once, in order
    assert read == [("BTC-USD", 1), ("BTC-USD", 2)] + [("ETH-USD", s) for s in range(1, 6)]


def test_a_symbol_filter_reads_only_those_symbols(tmp_path: Path) -> None:
    write(tmp_path, delta("ETH-USD", 1))
    write(tmp_path, delta("BTC-USD", 1))
    assert [event.symbol for event in read_events(tmp_path, symbols={"BTC-USD"})] == ["BTC-USD"]
    assert list(read_events(tmp_path / "nothing-here")) == []


def test_two_different_events_at_one_seq_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, delta("ETH-USD", 1, qty=1))
    write(tmp_path, delta("ETH-USD", 1, qty=2), date="1970-01-02")
    with pytest.raises(WireFormatError, match="two different events at 1"):
        list(read_events(tmp_path))


def test_files_being_written_are_not_read(tmp_path: Path) -> None:
    write(tmp_path, delta("ETH-USD", 1))
    directory = tmp_path / "events" / "symbol=ETH-USD" / "date=1970-01-01"
    (directory / ".2-2.parquet.partial").write_bytes(b"half a file")
    assert [event.seq for event in read_events(tmp_path)] == [1]


def test_a_rewrite_of_the_same_rows_replaces_its_file(tmp_path: Path) -> None:
    events, _engine = history()
    archive(tmp_path, events)
    archive(tmp_path, events)  # after a crash: the same records again
    files = sorted(p.name for p in (tmp_path / "events").rglob("*.parquet"))
    assert len(files) == len(set(files)) == -(-len(events) // 4)
    assert list(read_events(tmp_path)) == events
