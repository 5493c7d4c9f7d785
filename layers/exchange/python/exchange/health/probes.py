"""The real probes of ``GET /v1/health``: each reaches its dependency exactly as the functions
that use it do, with a short deadline of its own, and raises when it does not answer.

- ``LedgerPing``: ``SELECT 1`` on a new connection from the ledger's conninfo provider (in AWS
  through RDS Proxy as the health function's own database role); a new connection, rather than
  a pooled one, proves what every other function's cold start needs.
- ``BrokerPing``: opens and closes an AMQP connection, from the URL the command publishers use:
  the handshake proves the broker accepts clients and our credentials.
- ``RedisProbe``: PING, and every shard's heartbeat in one MGET.
- ``DynamoCursors``: the journal consumers' cursors, in one BatchGetItem per 100 keys.
"""

import math
from collections.abc import Callable, Iterable, Sequence

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from exchange.health.model import Cursor
from exchange.heartbeat import heartbeat_key
from exchange.messaging import UrlProvider
from exchange.tables import CursorRecord

ConninfoProvider = Callable[[], str]
# libpq counts connect_timeout in whole seconds and takes anything below 2 as 2.
_MIN_CONNECT_TIMEOUT_S = 2


class LedgerPing:
    def __init__(self, conninfo: ConninfoProvider, *, timeout_s: float) -> None:
        self._conninfo = conninfo
        self._connect_timeout = max(_MIN_CONNECT_TIMEOUT_S, math.ceil(timeout_s))

    def __call__(self) -> None:
        import psycopg  # noqa: PLC0415 - loaded with the first check

        with psycopg.connect(
            self._conninfo(), connect_timeout=self._connect_timeout, autocommit=True
        ) as conn:
            conn.execute("SELECT 1").fetchone()


class BrokerPing:
    def __init__(
        self, url: UrlProvider, *, timeout_s: float, connection_name: str = "health"
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._connection_name = connection_name

    def __call__(self) -> None:
        import pika  # noqa: PLC0415 - loaded with the first check

        parameters = pika.URLParameters(self._url())
        parameters.connection_attempts = 1
        parameters.retry_delay = 0
        parameters.socket_timeout = parameters.stack_timeout = self._timeout_s
        parameters.blocked_connection_timeout = self._timeout_s
        parameters.client_properties = {"connection_name": self._connection_name}
        connection = pika.BlockingConnection(parameters)
        connection.close()


class RedisProbe:
    """On one client per container (it connects on first use), with the check's timeout and no
    retries."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float) -> "RedisProbe":
        return cls(
            redis.Redis.from_url(
                url,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                retry=Retry(NoBackoff(), 0),
            )
        )

    def ping(self) -> None:
        self.client.ping()

    def heartbeats(self, shards: Sequence[str]) -> dict[str, bytes | None]:
        """Each shard's heartbeat as stored (``exchange.heartbeat``), None where there is none."""
        values: list[bytes | None] = self.client.mget(  # type: ignore[assignment]
            [heartbeat_key(shard) for shard in shards]
        )
        return dict(zip(shards, values, strict=True))

    def close(self) -> None:
        self.client.close()


class DynamoCursors:
    """The ``cursors`` table (bound by ``exchange.tables.bind_tables``). BatchGetItem takes at
    most 100 keys and may answer only part of them (``UnprocessedKeys``; "BatchGetItem", Amazon
    DynamoDB API Reference): pynamodb's ``batch_get`` pages by 100 and asks again for the rest.
    Keys without a row (a consumer that never applied the symbol) are simply not returned."""

    def read(
        self, consumers: Iterable[str], symbols: Iterable[str]
    ) -> dict[tuple[str, str], Cursor]:
        keys = [(consumer, symbol) for consumer in consumers for symbol in symbols]
        return {
            (row.consumer, row.symbol): Cursor(int(row.last_seq), int(row.updated_ns))
            for row in CursorRecord.batch_get(keys)
        }
