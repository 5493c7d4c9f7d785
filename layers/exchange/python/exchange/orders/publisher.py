"""The command sink port, and its RabbitMQ (Amazon MQ) adapter.

Each publish has a deadline (``publish_timeout_seconds``, well inside the function's timeout):
connecting, opening the channel and waiting for the confirm all count against it. The outcome is
one of three:

- confirmed: the shard's queue holds the command;
- ``BrokerUnavailable``: it certainly holds nothing (no connection, unroutable, nacked);
- ``PublishUnconfirmed``: it may hold it (the confirm did not come: lost, the connection dropped
  after the publish frame, or the deadline passed). The caller must not treat it as a failure.

The adapter keeps one connection per Lambda container, opened on the first publish and reused by
later invocations. A frozen container's connection may have died meanwhile, so a command that
goes unanswered on a reused connection is published once more on a new one, within the same
deadline; a duplicate is harmless, since the engine drops a command it holds (same order id, or
same command id).
"""

import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from exchange.aws import secrets_client_factory
from exchange.domain.commands import EngineCommand
from exchange.messaging import (
    COMMAND_EXCHANGE,
    CONTENT_TYPE,
    ShardFallback,
    ShardMap,
    UrlProvider,
    broker_url_from_settings,
)
from exchange.orders.errors import BrokerUnavailable, PublishUnconfirmed
from exchange.settings import (
    AdminSettings,
    CancelAfterSettings,
    DeadLettersSettings,
    OrdersSettings,
    ReconcilerSettings,
)
from exchange.wire import encode_command

if TYPE_CHECKING:
    from exchange.orders.confirm_link import ConfirmLink

# The functions that publish engine commands.
PublishingSettings = (
    OrdersSettings | ReconcilerSettings | DeadLettersSettings | CancelAfterSettings | AdminSettings
)


class CommandSink(ABC):
    @abstractmethod
    def publish(self, command: EngineCommand) -> None:
        """Hand ``command`` (a user's, or an operator's) to its shard's queue, confirmed.
        Raises BrokerUnavailable when the queue certainly did not take it, PublishUnconfirmed
        when it may have."""


class RabbitCommandSink(CommandSink):
    def __init__(
        self,
        url: UrlProvider,
        shards: ShardMap,
        *,
        connection_name: str = "api-orders",
        heartbeat_s: int = 60,
        deadline_s: float = 3.0,
    ) -> None:
        self._url = url
        self._shards = shards
        self._connection_name = connection_name
        self._heartbeat_s = heartbeat_s
        self._deadline_s = deadline_s
        self._link: ConfirmLink | None = None

    @classmethod
    def from_settings(
        cls,
        settings: PublishingSettings,
        *,
        connection_name: str = "api-orders",
        shard_fallback: ShardFallback | None = None,
    ) -> "RabbitCommandSink":
        """Amazon MQ (endpoint + secret) in AWS, ``EXCHANGE_BROKER_URL`` locally; every function
        that publishes engine commands builds its sink here, on a connection named after it so
        an operator can tell them apart. ``shard_fallback`` (the live catalog's ``shard_for``)
        routes the symbols listed at run time, which the static shard map lacks."""
        shards = ShardMap.of(settings.shards, fallback=shard_fallback)
        url = broker_url_from_settings(settings, secrets_client_factory(settings))
        return cls(
            url,
            shards,
            connection_name=connection_name,
            deadline_s=settings.publish_timeout_seconds,
        )

    def publish(self, command: EngineCommand) -> None:
        import pika  # noqa: PLC0415 - pika loads with the first publish

        from exchange.orders.confirm_link import Outcome  # noqa: PLC0415

        deadline = time.monotonic() + self._deadline_s
        shard, body = self._shards.shard_of(command.symbol), encode_command(command)
        kind = type(command).__name__
        # As messaging.CommandPublisher: persistent, and returned if no queue is bound.
        properties = pika.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=2)
        sent, error = False, None
        for _ in range(2):
            reused = self._link is not None
            link = self._open(deadline, kind, sent=sent)
            outcome = link.publish(COMMAND_EXCHANGE, shard, body, properties, deadline)
            sent = True
            if outcome is Outcome.CONFIRMED:
                return
            if outcome is Outcome.RETURNED:
                raise BrokerUnavailable(f"no queue is bound for shard {shard}; {kind} unroutable")
            if outcome is Outcome.NACKED:
                raise BrokerUnavailable(f"the broker refused {kind}")
            error = link.error
            self.close()
            if not reused:
                break
        raise PublishUnconfirmed(
            f"{kind} was sent but not confirmed within {self._deadline_s}s: {error!r}"
        )

    def _open(self, deadline: float, kind: str, *, sent: bool) -> "ConfirmLink":
        import pika  # noqa: PLC0415

        from exchange.orders.confirm_link import ConfirmLink  # noqa: PLC0415

        if self._link is not None:
            self._link.refresh()
            if self._link.usable:
                return self._link
            self.close()
        parameters = pika.URLParameters(self._url())
        parameters.heartbeat = self._heartbeat_s
        parameters.connection_attempts = 1
        parameters.socket_timeout = parameters.stack_timeout = self._deadline_s
        parameters.blocked_connection_timeout = self._deadline_s
        # Named, so an operator (or a test) can find and close it with rabbitmqctl.
        parameters.client_properties = {"connection_name": self._connection_name}
        link = ConfirmLink(parameters)
        if link.open(deadline):
            self._link = link
            return link
        error = link.error
        link.abort()
        failure = f"broker unavailable for {kind}: {error or 'no connection by the deadline'}"
        raise PublishUnconfirmed(failure) if sent else BrokerUnavailable(failure)

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.abort()
