"""Broker intake from RabbitMQ (Amazon MQ in AWS) with pika.

The runtime polls: pika dispatches deliveries into a buffer while ``process_data_events`` runs,
which also services heartbeats. Acks are cumulative (``multiple=True``), sent only after the
runtime has made the batch's events durable.
"""

import contextlib

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError

from engine_service.ports import BrokerUnavailable, Delivery
from exchange import messaging
from exchange.observability import logger


class RabbitIntake:
    def __init__(
        self, url: str, shard: str, *, prefetch: int = 2_000, heartbeat_s: int = 30
    ) -> None:
        self._parameters = pika.URLParameters(url)
        self._parameters.heartbeat = heartbeat_s
        self._parameters.blocked_connection_timeout = 60
        # Named, so an operator (or a test) can find and close it with rabbitmqctl.
        self._parameters.client_properties = {"connection_name": f"engine-{shard}"}
        self._shard = shard
        self._prefetch = prefetch
        self._connection: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._consumer_tag: str | None = None
        self._buffer: list[Delivery] = []

    def connect(self) -> None:
        self.close()
        try:
            self._connection = pika.BlockingConnection(self._parameters)
            self._channel = self._connection.channel()
            messaging.declare(self._channel, self._shard)
            self._channel.basic_qos(prefetch_count=self._prefetch)
            self._consumer_tag = self._channel.basic_consume(
                messaging.command_queue(self._shard), self._on_message
            )
        except AMQPError as exc:
            self.close()
            raise BrokerUnavailable(
                f"cannot consume {messaging.command_queue(self._shard)}: {exc!r}"
            ) from exc
        logger.info(
            "consuming",
            extra={"queue": messaging.command_queue(self._shard), "prefetch": self._prefetch},
        )

    def _on_message(
        self,
        _channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        _properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        self._buffer.append(Delivery(method.delivery_tag, body, bool(method.redelivered)))

    def _live(self) -> tuple[BlockingConnection, BlockingChannel]:
        if self._connection is None or self._channel is None or not self._channel.is_open:
            raise BrokerUnavailable("not connected to RabbitMQ")
        return self._connection, self._channel

    def poll(self, max_messages: int, timeout_s: float) -> list[Delivery]:
        connection, _ = self._live()
        try:
            connection.process_data_events(time_limit=0 if self._buffer else timeout_s)
        except AMQPError as exc:
            raise BrokerUnavailable(f"RabbitMQ connection lost: {exc!r}") from exc
        batch, self._buffer = self._buffer[:max_messages], self._buffer[max_messages:]
        return batch

    def wake(self) -> None:
        # ``add_callback_threadsafe`` is the one BlockingConnection method safe from another
        # thread; the callback, run by the loop's next ``process_data_events``, ends its wait.
        connection = self._connection
        if connection is None:
            return
        # Closed or closing: no poll waits on it, and the loop reconnects.
        with contextlib.suppress(AMQPError):
            connection.add_callback_threadsafe(_nothing)

    def ack_through(self, tag: int) -> None:
        _, channel = self._live()
        try:
            channel.basic_ack(delivery_tag=tag, multiple=True)
        except AMQPError as exc:
            raise BrokerUnavailable(f"ack failed: {exc!r}") from exc

    def dead_letter(self, tag: int) -> None:
        _, channel = self._live()
        try:
            channel.basic_reject(delivery_tag=tag, requeue=False)
        except AMQPError as exc:
            raise BrokerUnavailable(f"reject failed: {exc!r}") from exc

    def lag(self) -> int | None:
        try:
            _, channel = self._live()
            declared = channel.queue_declare(messaging.command_queue(self._shard), passive=True)
        except (AMQPError, BrokerUnavailable):
            return None
        return int(declared.method.message_count)

    def stop_consuming(self) -> None:
        if self._channel is not None and self._channel.is_open and self._consumer_tag:
            try:
                # Deliveries already buffered are still processed and acknowledged.
                self._channel.basic_cancel(self._consumer_tag)
            except AMQPError as exc:
                logger.warning("basic_cancel failed", extra={"error": repr(exc)})
        self._consumer_tag = None

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._buffer = []
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except AMQPError as exc:
                logger.warning("closing RabbitMQ connection failed", extra={"error": repr(exc)})


def _nothing() -> None:
    """The callback of ``RabbitIntake.wake``: being called is its whole effect."""
