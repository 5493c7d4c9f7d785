"""The connection store: one ``$meta`` item per WebSocket connection (its account, or none for an
anonymous one) and one item per channel key it subscribes to. Fan-out reads a channel's
subscribers through the ``by_channel`` index. Every item expires by TTL shortly after API
Gateway's 2-hour connection limit, so a ``$disconnect`` that never ran costs nothing for long.
"""

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass

from exchange.domain.errors import ExchangeError
from exchange.tables import ConnectionRecord

META = ConnectionRecord.META_CHANNEL


class UnknownConnection(ExchangeError):
    """A message from a connection the store does not hold (expired, or cleaned up as gone)."""

    code = "unknown_connection"


@dataclass(frozen=True, slots=True)
class Connection:
    connection_id: str
    account_id: str | None
    connected_ns: int
    expires_at: int  # epoch seconds


class ConnectionStore(ABC):
    @abstractmethod
    def connect(self, connection: Connection) -> None: ...

    @abstractmethod
    def get(self, connection_id: str) -> Connection | None: ...

    @abstractmethod
    def channels(self, connection_id: str) -> list[str]:
        """The channel keys a connection subscribes to."""

    @abstractmethod
    def subscribe(self, connection: Connection, key: str) -> None:
        """Add a subscription; UnknownConnection when the connection is gone meanwhile."""

    @abstractmethod
    def unsubscribe(self, connection_id: str, key: str) -> None: ...

    @abstractmethod
    def subscribers(self, key: str) -> list[str]:
        """Connection ids subscribed to a channel key."""

    @abstractmethod
    def remove(self, connection_id: str) -> None:
        """Delete the connection and all its subscriptions (idempotent)."""


class DynamoConnectionStore(ConnectionStore):
    def connect(self, connection: Connection) -> None:
        self._row(connection, META).save()

    def get(self, connection_id: str) -> Connection | None:
        try:
            row = ConnectionRecord.get(connection_id, META, consistent_read=True)
        except ConnectionRecord.DoesNotExist:
            return None
        return Connection(
            connection_id=row.connection_id,
            account_id=row.account_id or None,
            connected_ns=int(row.connected_ns),
            expires_at=int(row.expires_at.timestamp()),
        )

    def channels(self, connection_id: str) -> list[str]:
        return [
            row.channel
            for row in ConnectionRecord.query(connection_id, consistent_read=True)
            if row.channel != META
        ]

    def subscribe(self, connection: Connection, key: str) -> None:
        # Checked after the write: a subscribe racing a $disconnect must not leave an orphan that
        # fan-out would post to until the TTL.
        self._row(connection, key).save()
        if self.get(connection.connection_id) is None:
            self.unsubscribe(connection.connection_id, key)
            raise UnknownConnection(f"connection {connection.connection_id} is gone")

    def unsubscribe(self, connection_id: str, key: str) -> None:
        ConnectionRecord(connection_id, key).delete()

    def subscribers(self, key: str) -> list[str]:
        return [row.connection_id for row in ConnectionRecord.by_channel.query(key)]

    def remove(self, connection_id: str) -> None:
        rows = list(ConnectionRecord.query(connection_id, consistent_read=True))
        with ConnectionRecord.batch_write() as batch:
            for row in rows:
                batch.delete(row)

    @staticmethod
    def _row(connection: Connection, key: str) -> ConnectionRecord:
        return ConnectionRecord(
            connection.connection_id,
            key,
            account_id=connection.account_id,
            connected_ns=connection.connected_ns,
            expires_at=dt.datetime.fromtimestamp(connection.expires_at, tz=dt.UTC),
        )
