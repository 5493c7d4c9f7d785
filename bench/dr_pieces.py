"""The DR drill's stand-ins for what AWS replicates between regions, and its two PostgreSQL
servers (``bench.dr_drill`` runs them; each piece is the real code path where one exists).

- ``PgPair``: a primary PostgreSQL server and a streaming-replication standby of it (physical
  replication, ``pg_basebackup -R``), both fresh servers in a scratch directory, the standby with
  ``recovery_min_apply_delay`` as its apply lag. Promotion is ``pg_ctl promote``, as Aurora
  Global Database's failover promotes the secondary cluster; it applies all the WAL the standby
  had received, so the promoted ledger is about as fresh as the primary's was when it died: the
  hard case for the replication gate (the ledger ahead of the events copy), on purpose.
- ``Replicator``: the DynamoDB global tables (events, audit, cursors) and S3 replication
  (snapshots) from the primary region to DR, each item or object copied once it is ``lag_s`` old
  (measured from when the replicator first saw it), items in no particular order, until ``cut``
  (the primary region goes down: what has not been copied by then is lost).
"""

import contextlib
import os
import random
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exchange.journal.cursors import Cursor, CursorConflict, CursorStore
from exchange.journal.epochs import EpochHistory


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit(
            "dr-drill: PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
        )
    return Path(found[-1]).parent


class PgPair:
    def __init__(self, root: Path, *, primary_port: int, standby_port: int, lag_s: float) -> None:
        self.root = root
        self.bin = _bindir()
        self.primary_port = primary_port
        self.standby_port = standby_port
        self.lag_s = lag_s
        self.primary_dir = root / "primary"
        self.standby_dir = root / "standby"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # the server refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603

    def url(self, port: int, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    def start(self) -> None:
        if self.root.exists():
            self.stop()
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.primary_dir), "-A", "trust", "-U", "postgres")
        options = f"-p {self.primary_port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl",
            "-D",
            str(self.primary_dir),
            "-o",
            options,
            "-l",
            str(self.root / "primary.log"),
            "-w",
            "start",
        )
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            "postgres",
            "-D",
            str(self.standby_dir),
            "-R",
            "-X",
            "stream",
        )
        standby = (
            f"-p {self.standby_port} -k {self.root} -c listen_addresses=127.0.0.1 "
            f"-c recovery_min_apply_delay={int(self.lag_s * 1000)}ms"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.standby_dir),
            "-o",
            standby,
            "-l",
            str(self.root / "standby.log"),
            "-w",
            "start",
        )

    def kill_primary(self) -> None:
        """The primary region goes down: the server stops at once, without a checkpoint."""
        self._run("pg_ctl", "-D", str(self.primary_dir), "-m", "immediate", "stop")

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.standby_dir), "-w", "promote")

    def stop(self) -> None:
        for data in (self.primary_dir, self.standby_dir):
            if (data / "postmaster.pid").exists():
                with contextlib.suppress(subprocess.CalledProcessError):
                    self._run("pg_ctl", "-D", str(data), "-m", "immediate", "stop")


class Replicator:
    """Copies the events table and the snapshot bucket from the primary region to DR."""

    def __init__(
        self,
        *,
        source: dict[str, Any],  # {"dynamodb": client, "s3": client}
        target: dict[str, Any],
        events_table: str,
        audit_table: str,
        cursors_table: str,
        seed: int,
        buckets: tuple[str, str],  # source, target
        symbols: list[str],
        lag_s: float,
        cursor_lag_s: float | None = None,  # the cursors' own lag (default: ``lag_s``)
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source, self._target = source, target
        self._tables, self._buckets = (events_table, audit_table), buckets
        self._rng = random.Random(seed)
        self._cursors_table = cursors_table
        self._cursor_history: dict[tuple[str, str], list[tuple[float, dict[str, Any]]]] = {}
        self._symbols = symbols
        self._lag_s = lag_s
        self._cursor_lag_s = lag_s if cursor_lag_s is None else cursor_lag_s
        self._clock = clock
        self._seen_items: dict[tuple[str, str, int], tuple[float, dict[str, Any]]] = {}
        self._read_through = {(t, s): 0 for t in self._tables for s in symbols}
        self._seen_objects: dict[tuple[Any, Any], float] = {}
        self._cut = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="replicator", daemon=True)
        self.copied_items = 0

    def start(self) -> "Replicator":
        self._thread.start()
        return self

    def cut(self) -> None:
        self._cut.set()
        self._thread.join()

    def _read(self, table: str, symbol: str, now: float) -> None:
        response = self._source["dynamodb"].query(
            TableName=table,
            KeyConditionExpression="#s = :s AND #q > :q",
            ExpressionAttributeNames={"#s": "symbol", "#q": "seq"},
            ExpressionAttributeValues={
                ":s": {"S": symbol},
                ":q": {"N": str(self._read_through[(table, symbol)])},
            },
            ConsistentRead=True,
        )
        for item in response["Items"]:
            seq = int(item["seq"]["N"])
            self._seen_items[(table, symbol, seq)] = (now, item)
            self._read_through[(table, symbol)] = max(self._read_through[(table, symbol)], seq)

    def _loop(self) -> None:
        while not self._cut.wait(0.05):
            self._step()

    def _step(self) -> None:
        now = self._clock()
        for table in self._tables:
            for symbol in self._symbols:
                self._read(table, symbol, now)
        due = [key for key, (seen, _) in self._seen_items.items() if now - seen >= self._lag_s]
        # Global tables replicate item by item, in no promised order: so does the copy here.
        self._rng.shuffle(due)
        for key in due:
            if self._cut.is_set():
                return
            _, item = self._seen_items.pop(key)
            self._target["dynamodb"].put_item(TableName=key[0], Item=item)
            self.copied_items += 1
        source, target = self._buckets
        self._copy_cursors(now)
        listed = self._source["s3"].list_objects_v2(Bucket=source).get("Contents", [])
        for entry in listed:
            obj = (entry["Key"], entry["ETag"])
            seen = self._seen_objects.setdefault(obj, now)
            if now - seen >= self._lag_s:
                body = self._source["s3"].get_object(Bucket=source, Key=entry["Key"])
                self._target["s3"].put_object(
                    Bucket=target, Key=entry["Key"], Body=body["Body"].read()
                )
                self._seen_objects[obj] = float("inf")  # copied

    def _copy_cursors(self, now: float) -> None:
        """Each cursor as it stood ``cursor_lag_s`` ago (its newest value at least that old)."""
        for item in self._source["dynamodb"].scan(TableName=self._cursors_table)["Items"]:
            key = (item["consumer"]["S"], item["symbol"]["S"])
            history = self._cursor_history.setdefault(key, [])
            if not history or history[-1][1]["last_seq"] != item["last_seq"]:
                history.append((now, item))
        for key, history in self._cursor_history.items():
            due = [entry for entry in history if now - entry[0] >= self._cursor_lag_s]
            if due and not self._cut.is_set():
                self._target["dynamodb"].put_item(TableName=self._cursors_table, Item=due[-1][1])
                self._cursor_history[key] = history[len(due) :]


class BotoCursorStore(CursorStore):
    """The ``cursors`` table (``CursorRecord``'s attributes) through a boto3 client of one region:
    ``DynamoCursorStore``'s pynamodb model is bound process-wide, and the drill runs two regions
    in one process. Same conditions: an advance only from where the cursor stands."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, consumer: str, symbol: str) -> int:
        return self.read(consumer, symbol).last_seq

    def read(self, consumer: str, symbol: str) -> Cursor:
        item = self._client.get_item(
            TableName=self._table,
            Key={"consumer": {"S": consumer}, "symbol": {"S": symbol}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return Cursor()
        epochs = tuple(
            (int(e["L"][0]["N"]), int(e["L"][1]["N"])) for e in item.get("epochs", {}).get("L", [])
        )
        return Cursor(int(item["last_seq"]["N"]), epochs)

    def advance(
        self, consumer: str, symbol: str, *, after: int, to: int, now_ns: int,
        epochs: EpochHistory | None = None,
    ) -> None:  # fmt: skip
        values: dict[str, Any] = {":to": {"N": str(to)}, ":now": {"N": str(now_ns)},
                                  ":after": {"N": str(after)}}  # fmt: skip
        update = "SET last_seq = :to, updated_ns = :now"
        if epochs is not None:
            update += ", epochs = :epochs"
            values[":epochs"] = {"L": [{"L": [{"N": str(f)}, {"N": str(e)}]} for f, e in epochs]}
        condition = "last_seq = :after" + (
            " OR attribute_not_exists(last_seq)" if not after else ""
        )
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"consumer": {"S": consumer}, "symbol": {"S": symbol}},
                UpdateExpression=update, ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )  # fmt: skip
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            raise CursorConflict(f"{consumer}/{symbol} is not at seq {after}") from exc
