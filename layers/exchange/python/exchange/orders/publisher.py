"""The command sink port, and its RabbitMQ (Amazon MQ) adapter.

The adapter keeps one pika ``BlockingConnection`` per Lambda container, opened on the first
publish and reused by later invocations. A frozen container's connection may have been closed by
the broker meanwhile (missed heartbeats), so a publish on a dead connection reconnects once and
publishes again. That retry may duplicate a command whose confirm was lost; the engine drops a
command it already holds (same order id, or same command id), so the effect stays exactly once.
"""

import contextlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from exchange.aws import secrets_client_factory
from exchange.domain.commands import Command
from exchange.messaging import CommandPublisher, ShardMap, UrlProvider, broker_url_from_settings
from exchange.orders.errors import BrokerUnavailable
from exchange.settings import OrdersSettings

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingConnection


class CommandSink(ABC):
    @abstractmethod
    def publish(self, command: Command) -> None:
        """Hand ``command`` to its shard's queue, confirmed. Raises BrokerUnavailable."""


class RabbitCommandSink(CommandSink):
    def __init__(
        self,
        url: UrlProvider,
        shards: ShardMap,
        *,
        connection_name: str = "api-orders",
        heartbeat_s: int = 60,
        timeout_s: float = 5.0,
    ) -> None:
        self._url = url
        self._shards = shards
        self._connection_name = connection_name
        self._heartbeat_s = heartbeat_s
        self._timeout_s = timeout_s
        self._connection: BlockingConnection | None = None
        self._publisher: CommandPublisher | None = None

    @classmethod
    def from_settings(cls, settings: OrdersSettings) -> "RabbitCommandSink":
        """Amazon MQ (endpoint + secret) in AWS, ``EXCHANGE_BROKER_URL`` locally."""
        shards = ShardMap(settings.shards) if settings.shards is not None else ShardMap.demo()
        url = broker_url_from_settings(settings, secrets_client_factory(settings))
        return cls(url, shards)

    def publish(self, command: Command) -> None:
        from pika.exceptions import (  # noqa: PLC0415 - pika loads with the first publish
            AMQPConnectionError,
            AMQPError,
            ChannelClosed,
            ChannelWrongStateError,
            ConnectionWrongStateError,
            StreamLostError,
        )

        dead = (
            AMQPConnectionError,
            ChannelClosed,
            ChannelWrongStateError,
            ConnectionWrongStateError,
            StreamLostError,
        )
        try:
            self._connected().publish(command)
            return
        except dead:
            self.close()  # a stale connection from a frozen container: reconnect once
        except AMQPError as exc:  # unroutable, nacked: the broker refused this command
            raise BrokerUnavailable(f"broker refused {type(command).__name__}: {exc!r}") from exc
        try:
            self._connected().publish(command)
        except AMQPError as exc:
            self.close()
            raise BrokerUnavailable(f"broker unavailable: {exc!r}") from exc

    def _connected(self) -> CommandPublisher:
        import pika  # noqa: PLC0415

        if self._publisher is not None and self._connection is not None:
            if self._connection.is_open:
                return self._publisher
            self.close()
        parameters = pika.URLParameters(self._url())
        parameters.heartbeat = self._heartbeat_s
        parameters.blocked_connection_timeout = self._timeout_s
        parameters.socket_timeout = self._timeout_s
        parameters.connection_attempts = 1
        # Named, so an operator (or a test) can find and close it with rabbitmqctl.
        parameters.client_properties = {"connection_name": self._connection_name}
        self._connection = pika.BlockingConnection(parameters)
        self._publisher = CommandPublisher(self._connection.channel(), self._shards)
        return self._publisher

    def close(self) -> None:
        from pika.exceptions import AMQPError  # noqa: PLC0415

        connection, self._connection, self._publisher = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(AMQPError):  # it is going away either way
                connection.close()
