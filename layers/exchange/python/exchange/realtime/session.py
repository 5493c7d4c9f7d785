"""A WebSocket connection's life: connect, subscribe, unsubscribe, ping, disconnect.

Client messages are JSON objects ``{"action": ..., "channel": ..., "id": ...}`` (``id`` is
optional and echoed in the reply). Every reply goes back through the Management API. Anything
malformed, unknown or not allowed gets an ``error`` frame with a ``code``; the socket stays open
and the route never fails.

On ``subscribe`` to ``book.{symbol}`` the subscription is stored first and the snapshot (with
its checksum) read after, so together with fan-out's order (advance the book, then post) the
client misses nothing between the snapshot and the first delta frame it keeps (see ``books``).
``status`` works the same way: the subscription first, then a ``status_snapshot`` of every listed
symbol (``statuses``: fan-out's copy, written before it posts a change, over the live catalog's).
The other channels send nothing on ``subscribe`` but the reply: ``ticker.{symbol}`` and
``balances`` frames come with the next change (this function reads neither the candles nor the
ledger), so a client reads ``GET /v1/markets/{symbol}/ticker`` or ``GET /v1/balances`` after
subscribing.
"""

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from exchange.domain.errors import ExchangeError
from exchange.domain.instruments import InstrumentCatalog
from exchange.journal.batch import count
from exchange.market.books import BookStore
from exchange.realtime import frames
from exchange.realtime.channels import Channel, ChannelKind, parse_channel
from exchange.realtime.connections import Connection, ConnectionStore, UnknownConnection
from exchange.realtime.sender import Sender
from exchange.realtime.statuses import StatusBoard, snapshot
from exchange.settings import DEFAULT_WS_MAX_SUBSCRIPTIONS, DEFAULT_WS_TTL_SECONDS


class ClientMessage(msgspec.Struct, frozen=True):
    action: str
    channel: str | None = None
    id: str | None = None


class _Refused(ExchangeError):
    """A message the session answers with an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = code


_decoder = msgspec.json.Decoder(ClientMessage)


def open_connection(
    store: ConnectionStore,
    connection_id: str,
    account_id: str | None,
    *,
    ttl_seconds: int = DEFAULT_WS_TTL_SECONDS,
    now_ns: int | None = None,
) -> Connection:
    """``$connect``: record the connection and its account (None: anonymous)."""
    now = time.time_ns() if now_ns is None else now_ns
    connection = Connection(
        connection_id=connection_id,
        account_id=account_id or None,
        connected_ns=now,
        expires_at=now // 10**9 + ttl_seconds,
    )
    store.connect(connection)
    count("WebSocketConnects")
    return connection


def close_connection(store: ConnectionStore, connection_id: str) -> None:
    """``$disconnect``: the connection and its subscriptions go."""
    store.remove(connection_id)
    count("WebSocketDisconnects")


OK: Final = {"statusCode": 200}


@dataclass
class Lifecycle:
    """The ``$connect`` and ``$disconnect`` routes."""

    connections: ConnectionStore
    ttl_seconds: int = DEFAULT_WS_TTL_SECONDS

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        request = event["requestContext"]
        connection_id = str(request["connectionId"])
        if request.get("eventType") == "CONNECT" or request.get("routeKey") == "$connect":
            # Put there by the $connect authorizer ("" for an anonymous connection).
            account_id = (request.get("authorizer") or {}).get("account_id") or None
            open_connection(
                self.connections, connection_id, account_id, ttl_seconds=self.ttl_seconds
            )
        else:
            close_connection(self.connections, connection_id)
        return dict(OK)


@dataclass
class Session:
    """The ``subscribe``, ``unsubscribe``, ``ping`` and ``$default`` routes."""

    connections: ConnectionStore
    sender: Sender
    books: BookStore
    catalog: InstrumentCatalog
    max_subscriptions: int = DEFAULT_WS_MAX_SUBSCRIPTIONS
    clock: Callable[[], int] = time.time_ns
    statuses: StatusBoard | None = None  # fan-out's copy; None: the catalog's statuses alone

    def _now_ns(self) -> int:
        return self.clock()

    # -- messages --------------------------------------------------------------------------------
    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A message route's event: reply by the Management API, and always answer 200."""
        body: str | bytes | None = event.get("body")
        if body and event.get("isBase64Encoded"):
            body = base64.b64decode(body)
        self.message(str(event["requestContext"]["connectionId"]), body)
        return dict(OK)

    def message(self, connection_id: str, body: str | bytes | None) -> frames.Frame:
        """Handle one client message; returns the (first) reply frame it sent."""
        count("WebSocketMessages")
        request_id: str | None = None
        try:
            message = self._decode(body)
            request_id = message.id
            reply = self._dispatch(connection_id, message)
        except _Refused as exc:
            count("WebSocketErrorFrames")
            reply = [frames.error(exc.error_code, str(exc), request_id=request_id)]
        for frame in reply:
            if not self.sender.send(connection_id, frames.encode(frame)):
                self.connections.remove(connection_id)
                break
        return reply[0]

    @staticmethod
    def _decode(body: str | bytes | None) -> ClientMessage:
        if not body:
            raise _Refused("malformed_message", "empty message; send a JSON object")
        try:
            return _decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise _Refused("malformed_message", f"invalid message: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise _Refused("malformed_message", f"message is not JSON: {exc}") from exc

    def _dispatch(self, connection_id: str, message: ClientMessage) -> list[frames.Frame]:
        rid = message.id
        if message.action == "ping":
            return [frames.reply("pong", request_id=rid, ts=self._now_ns())]
        if message.action not in ("subscribe", "unsubscribe"):
            raise _Refused(
                "unknown_action",
                f"unknown action {message.action!r}; use subscribe, unsubscribe or ping",
            )
        if not message.channel:
            raise _Refused("malformed_message", f"{message.action} needs a channel")
        try:
            channel = parse_channel(message.channel, self.catalog)
        except ExchangeError as exc:
            raise _Refused(exc.code, str(exc)) from exc
        connection = self.connections.get(connection_id)
        if connection is None:
            raise _Refused("unknown_connection", "connection expired; reconnect")
        if channel.private and connection.account_id is None:
            raise _Refused(
                "unauthorized", f"the {channel.name} channel needs a token or an API key on connect"
            )
        key = channel.key(connection.account_id)
        if message.action == "unsubscribe":
            self.connections.unsubscribe(connection_id, key)
            return [frames.reply("unsubscribed", request_id=rid, channel=channel.name)]
        current = self.connections.channels(connection_id)
        if key not in current and len(current) >= self.max_subscriptions:
            raise _Refused("too_many_subscriptions", f"at most {self.max_subscriptions} channels")
        try:
            self.connections.subscribe(connection, key)
        except UnknownConnection as exc:
            raise _Refused("unknown_connection", str(exc)) from exc
        return [
            frames.reply("subscribed", request_id=rid, channel=channel.name),
            *self._snapshot(channel, rid),
        ]

    def _snapshot(self, channel: Channel, rid: str | None) -> list[frames.Frame]:
        """What a new subscriber gets after the reply: the book, or every symbol's status."""
        if channel.kind is ChannelKind.STATUS:
            return [frames.status_snapshot(snapshot(self.catalog, self.statuses))]
        if channel.kind is not ChannelKind.BOOK:
            return []
        assert channel.symbol is not None  # noqa: S101 - parse_channel sets it for books
        book = self.books.get(channel.symbol)
        if book is None:
            return [
                frames.error(
                    "snapshot_unavailable",
                    f"no book for {channel.symbol} yet; deltas follow, resubscribe later",
                    request_id=rid,
                )
            ]
        return [frames.snapshot(self.catalog.get(channel.symbol), book)]
