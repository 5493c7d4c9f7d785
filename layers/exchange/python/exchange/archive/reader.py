"""Archived events back, in order, from a directory or S3: what the replay and backtest read.

``source`` is the archive's root, the one that holds ``events/``: a local directory (the local
poller's ``<data dir>/archive``) or ``s3://bucket[/prefix]`` (Firehose's bucket). Every file under
``events/symbol=<S>/date=<D>/`` is read; events come out in (symbol, seq) order, each (symbol,
seq) once. Duplicates are expected, not an error: Firehose delivers at least once, and a local
rewrite after a crash may cut a partition into different files. Two copies of one seq that
disagree are: the archive is corrupt, and ``WireFormatError`` says where.

One symbol's rows are held in memory at a time (the ``seq`` and ``event`` columns only).

>>> import tempfile
>>> from exchange.archive.parquet import write_partition
>>> from exchange.archive.schema import to_row
>>> from exchange.domain import BookDelta, Side
>>> rows = [to_row(BookDelta(symbol="ETH-USD", ts=0, seq=s, side=Side.SELL, price=5, qty=1,
...                          orders=1)) for s in (1, 2, 3)]
>>> with tempfile.TemporaryDirectory() as root:
...     partition = {"symbol": "ETH-USD", "date": "1970-01-01"}
...     _ = write_partition(Path(root), partition, rows[:2])
...     _ = write_partition(Path(root), partition, rows[1:])  # overlaps: seq 2 twice
...     [event.seq for event in read_events(root)]
[1, 2, 3]
"""

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from exchange.archive.parquet import SUFFIX, read_table
from exchange.archive.schema import EVENTS_PREFIX, event_from_json
from exchange.domain.errors import WireFormatError
from exchange.domain.events import AnyEvent

S3_SCHEME: Final = "s3://"
_COLUMNS: Final = ("seq", "event")


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One file of the archive: its symbol (from its path) and how to read its bytes."""

    symbol: str
    name: str
    read: Callable[[], bytes]


def read_events(
    source: str | Path,
    *,
    symbols: Collection[str] | None = None,
    s3: Any | None = None,
) -> Iterator[AnyEvent]:
    """Every archived event under ``source`` (of ``symbols``, default all), in (symbol, seq)
    order, each once. ``s3`` is a boto3 S3 client for an ``s3://`` source (default: a new one)."""
    by_symbol: dict[str, list[ArchiveFile]] = defaultdict(list)
    for file in archive_files(source, s3=s3):
        if symbols is None or file.symbol in symbols:
            by_symbol[file.symbol].append(file)
    for symbol in sorted(by_symbol):
        yield from _symbol_events(symbol, by_symbol[symbol])


def archive_files(source: str | Path, *, s3: Any | None = None) -> Iterator[ArchiveFile]:
    """The files of the archive rooted at ``source``, whose paths name their symbol."""
    if isinstance(source, str) and source.startswith(S3_SCHEME):
        yield from _s3_files(source, s3)
    else:
        yield from _local_files(Path(source))


def _symbol_events(symbol: str, files: list[ArchiveFile]) -> Iterator[AnyEvent]:
    events: dict[int, str] = {}
    for file in sorted(files, key=lambda file: file.name):
        table = read_table(file.read(), _COLUMNS)
        for seq, text in zip(
            table.column("seq").to_pylist(), table.column("event").to_pylist(), strict=True
        ):
            if not isinstance(seq, int) or not isinstance(text, str):
                raise WireFormatError(f"{file.name} has a row without seq or event")
            known = events.setdefault(seq, text)
            if known != text:
                raise WireFormatError(f"archive of {symbol} holds two different events at {seq}")
    for seq in sorted(events):
        event = event_from_json(events[seq])
        if event.symbol != symbol or event.seq != seq:
            raise WireFormatError(
                f"the archive's row {symbol} seq {seq} holds {event.symbol} seq {event.seq}"
            )
        yield event


def _local_files(root: Path) -> Iterator[ArchiveFile]:
    for path in sorted((root / EVENTS_PREFIX).glob(f"symbol=*/date=*/*{SUFFIX}")):
        if path.name.startswith("."):  # a file being written (parquet.write_partition)
            continue
        symbol = path.parent.parent.name.removeprefix("symbol=")
        yield ArchiveFile(symbol, path.as_posix(), path.read_bytes)


def _s3_files(url: str, s3: Any | None) -> Iterator[ArchiveFile]:
    bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
    root = PurePosixPath(prefix.strip("/"), EVENTS_PREFIX) if prefix.strip("/") else None
    events_prefix = f"{root or EVENTS_PREFIX}/"
    if s3 is None:
        import boto3  # noqa: PLC0415

        s3 = boto3.client("s3")
    client = s3
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=events_prefix
    ):
        for item in page.get("Contents", ()):
            key: str = item["Key"]
            parts = key[len(events_prefix) :].split("/")
            # Firehose's objects: symbol=<S>/date=<D>/<name>; anything else is not an archive file.
            if len(parts) != 3 or not parts[0].startswith("symbol=") or not parts[2]:
                continue
            if not parts[1].startswith("date="):
                continue

            def read(key: str = key) -> bytes:
                body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
                return body

            yield ArchiveFile(parts[0].removeprefix("symbol="), key, read)


__all__ = ["ArchiveFile", "archive_files", "read_events"]
