"""Versioned SQL migrations of the ledger schema, and the runner that applies them.

Each version is a pair of files here, ``NNNN_name.up.sql`` and ``NNNN_name.down.sql``. The runner
keeps ``ledger.schema_migrations`` (version, name, checksum); each step runs in its own
transaction under an advisory lock, so two deploys migrating at once apply each step once. An
applied file whose text has changed since is refused rather than silently skipped.

Run it with ``python -m exchange.ledger.migrations upgrade`` (see ``__main__``).
"""

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from exchange.ledger.errors import LedgerError

_LOCK_KEY = 0x1ED6E5  # pg_advisory_xact_lock key of ledger migrations
_FILE = re.compile(r"^(\d{4})_(\w+)\.up\.sql$")


class MigrationError(LedgerError):
    code = "migration_error"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    up: str
    down: str | None

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.up.encode()).hexdigest()


def discover() -> list[Migration]:
    """Every migration shipped in this package, oldest first."""
    folder = resources.files(__package__)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if not match:
            continue
        down = folder.joinpath(entry.name.replace(".up.sql", ".down.sql"))
        found.append(
            Migration(
                version=int(match[1]),
                name=match[2],
                up=entry.read_text(),
                down=down.read_text() if down.is_file() else None,
            )
        )
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise MigrationError(
            f"migration versions must run 1..n, found {[m.version for m in found]}"
        )
    return found


def _prepare(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS ledger")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS ledger.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )


def applied(conn: psycopg.Connection[tuple[object, ...]]) -> dict[int, str]:
    """Applied versions and their checksums."""
    _prepare(conn)
    rows = conn.execute("SELECT version, checksum FROM ledger.schema_migrations").fetchall()
    conn.commit()
    return {int(str(version)): str(checksum) for version, checksum in rows}


def current(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    return max(applied(conn), default=0)


def upgrade(conn: psycopg.Connection[tuple[object, ...]], *, to: int | None = None) -> list[int]:
    """Apply pending migrations up to ``to`` (default: head); returns the versions applied."""
    migrations = discover()
    target = len(migrations) if to is None else to
    done: list[int] = []
    _prepare(conn)
    for migration in migrations:
        if migration.version > target:
            break
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            row = conn.execute(
                "SELECT checksum FROM ledger.schema_migrations WHERE version = %s",
                (migration.version,),
            ).fetchone()
            if row is not None:
                if row[0] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version}_{migration.name} changed after it was "
                        "applied; add a new migration instead"
                    )
                continue
            conn.execute(migration.up.encode())
            conn.execute(
                "INSERT INTO ledger.schema_migrations (version, name, checksum) "
                "VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            done.append(migration.version)
    return done


def downgrade(conn: psycopg.Connection[tuple[object, ...]], *, to: int = 0) -> list[int]:
    """Revert applied migrations above ``to``, newest first; returns the versions reverted."""
    by_version = {m.version: m for m in discover()}
    done: list[int] = []
    for version in sorted(applied(conn), reverse=True):
        if version <= to:
            break
        migration = by_version.get(version)
        if migration is None or migration.down is None:
            raise MigrationError(f"migration {version} cannot be downgraded")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(migration.down.encode())
            conn.execute("DELETE FROM ledger.schema_migrations WHERE version = %s", (version,))
        done.append(version)
    return done
