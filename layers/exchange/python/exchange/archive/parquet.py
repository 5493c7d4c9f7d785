"""Archive rows as Parquet files, in the layout Firehose writes to S3:
``events/symbol=<S>/date=<YYYY-MM-DD>/<first seq>-<last seq>.parquet``.

The Arrow schema is built from ``exchange.archive.schema.DATA_COLUMNS``, the one definition the
Glue table also comes from, so a local file and a Firehose file have the same columns (the
partition keys live in the path, not in the file). Names follow from the seqs a file holds, so a
rewrite of the same rows after a crash replaces the file instead of adding a copy; a file is
written beside its final name and renamed into place, so a reader never sees half of one.

Only local mode, the reader, the replay and the backtest import this module: pyarrow is not in
the Lambda layer (the Firehose transform emits JSON, and Firehose writes the Parquet).

>>> import tempfile
>>> from exchange.archive.schema import to_row
>>> from exchange.domain import BookDelta, Side
>>> rows = [to_row(BookDelta(symbol="BTC-USD", ts=0, seq=s, side=Side.BUY, price=9, qty=s,
...                          orders=1)) for s in (1, 2)]
>>> with tempfile.TemporaryDirectory() as root:
...     path = write_partition(Path(root), {"symbol": "BTC-USD", "date": "1970-01-01"}, rows)
...     print(path.relative_to(root).as_posix(), read_table(path).num_rows)
events/symbol=BTC-USD/date=1970-01-01/1-2.parquet 2
"""

import io
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from exchange.archive.schema import DATA_COLUMNS, EVENTS_PREFIX, Row

_ARROW_TYPES: Final[Mapping[str, pa.DataType]] = {"bigint": pa.int64(), "string": pa.string()}
ARROW_SCHEMA: Final = pa.schema(
    [pa.field(name, _ARROW_TYPES[glue_type]) for name, glue_type in DATA_COLUMNS]
)
SUFFIX: Final = ".parquet"


def partition_dir(partition: Mapping[str, str]) -> PurePosixPath:
    """``events/symbol=<S>/date=<D>``: the Hive-style prefix of a partition."""
    return PurePosixPath(
        EVENTS_PREFIX, f"symbol={partition['symbol']}", f"date={partition['date']}"
    )


def file_name(rows: Sequence[Row]) -> str:
    """``<first seq>-<last seq>.parquet`` of rows in seq order."""
    return f"{rows[0]['seq']}-{rows[-1]['seq']}{SUFFIX}"


def to_table(rows: Sequence[Row]) -> pa.Table:
    """Rows as an Arrow table of the data columns (other keys, the partition keys, are left)."""
    return pa.Table.from_pylist(list(rows), schema=ARROW_SCHEMA)


def to_bytes(rows: Sequence[Row]) -> bytes:
    """One Parquet file of the rows, in memory (uploads to S3, tests)."""
    sink = io.BytesIO()
    pq.write_table(to_table(rows), sink)
    return sink.getvalue()


def write_partition(root: Path, partition: Mapping[str, str], rows: Sequence[Row]) -> Path:
    """Write rows (one partition's, in seq order) as one file under ``root``; returns its path."""
    if not rows:
        raise ValueError("a Parquet file of the archive holds at least one row")
    directory = root / partition_dir(partition)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(rows)
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(to_table(rows), partial)
    partial.replace(path)
    return path


def read_table(source: Path | bytes, columns: Sequence[str] | None = None) -> pa.Table:
    """One archive file (a path, or its bytes), with the named columns (default: all)."""
    where = pa.BufferReader(source) if isinstance(source, bytes) else source
    return pq.read_table(where, columns=None if columns is None else list(columns))


__all__ = [
    "ARROW_SCHEMA",
    "SUFFIX",
    "file_name",
    "partition_dir",
    "read_table",
    "to_bytes",
    "to_table",
    "write_partition",
]
