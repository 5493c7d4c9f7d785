"""One AMQP connection with a channel in confirm mode, on pika's ``SelectConnection``, so that
every wait has a deadline.

pika's ``BlockingConnection`` waits for a publisher confirm with no timeout, and its graceful close
waits for the broker too: a stalled broker would hold the function until Lambda kills it. Here
the caller drives the connection's I/O loop itself, only until what it waits for has happened or
its deadline has passed, and can drop the socket at once (``abort``).
"""

import time
from collections.abc import Callable
from enum import Enum
from typing import Final

import pika
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.exceptions import ConnectionClosedByClient
from pika.frame import Method

# How long an abort may take to finish on the loop (no I/O is waited for: the socket is closed).
_ABORT_S: Final = 0.25


class Outcome(Enum):
    CONFIRMED = "confirmed"  # acked, and not returned: the queue holds it
    RETURNED = "returned"  # unroutable (mandatory): no queue holds it
    NACKED = "nacked"  # the broker refused it
    UNANSWERED = "unanswered"  # no answer before the deadline, or the connection went: unknown


class _Connection(SelectConnection):  # type: ignore[misc] # pika ships no type hints
    _aborted = False

    def abort(self) -> None:
        """Drop the socket now, without AMQP's closing handshake (a stalled broker never
        answers it). The connection closes on the loop's next turn."""
        if self._aborted or self.is_closing or self.is_closed:
            return
        self._aborted = True
        # What pika itself does on a fatal error: record the reason, stop the heartbeat checker
        # and abort the transport (or the connection workflow, while still opening).
        self._terminate_stream(ConnectionClosedByClient(200, "abandoned at its deadline"))


class ConfirmLink:
    """Open with ``open``, then ``publish`` one message at a time; ``abort`` when done with it."""

    def __init__(self, parameters: pika.connection.Parameters) -> None:
        self._channel: Channel | None = None
        self._error: BaseException | None = None
        # The broker's last answer: (delivery tag, acked); one publish is in flight at a time,
        # and an answer with ``multiple`` covers every tag up to its own.
        self._answer: tuple[int, bool] | None = None
        self._returned = False
        self._sent = 0  # delivery tags count publishes on the channel, from 1
        self._connection = _Connection(
            parameters,
            on_open_callback=self._opened,
            on_open_error_callback=self._failed,
            on_close_callback=self._failed,
        )

    @property
    def usable(self) -> bool:
        return self._channel is not None and self._error is None and self._channel.is_open

    @property
    def error(self) -> BaseException | None:
        return self._error

    def open(self, deadline: float) -> bool:
        """Whether the channel is ready for confirmed publishes by ``deadline``."""
        return self._run(lambda: self.usable or self._error is not None, deadline) and self.usable

    def refresh(self) -> None:
        """Take in what the broker sent meanwhile (a close, heartbeats), waiting for nothing."""
        loop = self._connection.ioloop
        timer = loop.call_later(0, loop.stop)
        try:
            loop.start()
        finally:
            loop.remove_timeout(timer)

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: pika.BasicProperties,
        deadline: float,
    ) -> Outcome:
        assert self._channel is not None, "open() the link first"  # noqa: S101
        self._returned = False
        self._channel.basic_publish(
            exchange, routing_key, body, properties=properties, mandatory=True
        )
        self._sent += 1
        tag = self._sent
        self._run(lambda: self._answered(tag) or self._error is not None, deadline)
        if not self._answered(tag):
            return Outcome.UNANSWERED
        assert self._answer is not None  # noqa: S101 - answered
        if not self._answer[1]:
            return Outcome.NACKED
        # The broker sends basic.return before the ack of a message it could not route.
        return Outcome.RETURNED if self._returned else Outcome.CONFIRMED

    def abort(self) -> None:
        connection = self._connection
        if not connection.is_closed:
            connection.abort()
            self._run(lambda: connection.is_closed, time.monotonic() + _ABORT_S)
        connection.ioloop.close()

    def _answered(self, tag: int) -> bool:
        return self._answer is not None and self._answer[0] >= tag

    # -- the loop -------------------------------------------------------------------------------
    def _run(self, done: Callable[[], bool], deadline: float) -> bool:
        """Run the I/O loop until ``done()`` or ``deadline`` (monotonic); whether done. Every
        callback below stops the loop, so ``done`` is checked after each event."""
        loop = self._connection.ioloop
        while not done():
            remaining = deadline - time.monotonic()
            if remaining < 0:
                return False
            timer = loop.call_later(remaining, loop.stop)
            try:
                loop.start()
            finally:
                loop.remove_timeout(timer)
        return True

    def _wake(self) -> None:
        self._connection.ioloop.stop()

    # -- callbacks ------------------------------------------------------------------------------
    def _opened(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._channel_opened)

    def _channel_opened(self, channel: Channel) -> None:
        channel.add_on_close_callback(self._channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(
            ack_nack_callback=self._on_answer, callback=lambda _: self._ready(channel)
        )

    def _ready(self, channel: Channel) -> None:
        self._channel = channel
        self._wake()

    def _on_answer(self, frame: Method) -> None:
        method = frame.method
        self._answer = (method.delivery_tag, isinstance(method, pika.spec.Basic.Ack))
        self._wake()

    def _on_return(self, *_: object) -> None:
        self._returned = True
        self._wake()

    def _channel_closed(self, _channel: Channel, reason: BaseException) -> None:
        self._error = self._error or reason
        self._wake()

    def _failed(self, _connection: SelectConnection, reason: BaseException | str) -> None:
        self._error = self._error or (
            reason if isinstance(reason, BaseException) else ConnectionError(reason)
        )
        self._wake()
