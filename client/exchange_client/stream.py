"""The WebSocket API as an async stream, with books kept for you.

    async with MarketStream(config.ws_url, token=client.auth.access_token) as stream:
        await stream.subscribe("book.BTC-USD")
        await stream.subscribe("orders")           # your own orders and fills (needs identity)
        async for event in stream:
            if event.kind == "book":
                print(stream.books["BTC-USD"].best_bid())

A program connects with its API key instead (``MarketStream(ws_url, api_key=key)``): the
``$connect`` carries the key's signature in its query.

- ``book.{symbol}``: a snapshot, then delta frames chained by seq. A gap (a lost frame) or a
  frame whose checksum does not match the book kept resets the book and resubscribes, which
  brings a fresh snapshot; ``event.kind == "gap"`` says so.
- ``trades.{symbol}``, ``candles.{symbol}.{interval}`` and ``ticker.{symbol}`` (24 h figures):
  public. ``orders`` (your orders and fills) and ``balances`` (your balances as they change):
  private.
- ``status`` (public, no symbol): every symbol's trading status on subscribe, then each change;
  ``stream.statuses`` keeps each symbol's latest (by seq: a change that arrives just before a
  snapshot holding it is not undone), and each frame comes as ``event.kind == "status"``::

      await stream.subscribe(STATUS_CHANNEL)
      async for event in stream:
          if event.kind == "status":
              print(stream.statuses["BTC-USD"].status)
- The connection is re-established with backoff whenever it drops, and proactively before API
  Gateway's 2-hour limit; a ping every 5 minutes keeps it under the 10-minute idle limit. After a
  reconnect every channel is subscribed again and every book rebuilt from a new snapshot.
"""

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self

import aiohttp

from exchange_client.book import ChecksumMismatch, LocalBook, SeqGap
from exchange_client.credentials import ApiKey

TokenProvider = Callable[[], Awaitable[str]]
STATUS_CHANNEL: Final = "status"
BACKOFF_S: Final = (0.2, 0.5, 1.0, 2.0, 5.0)
_CLOSED: Final = frozenset(
    {
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSING,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    }
)


@dataclass(frozen=True, slots=True)
class SymbolStatus:
    """A symbol's trading status from the journal's ``seq`` on (0: its listing's own)."""

    symbol: str
    status: str
    seq: int


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """``kind``: book, trades, orders, candle, ticker, balances, status (data from the API), or
    the stream's own notices: connected, gap, reconnecting, error."""

    kind: str
    channel: str | None
    data: dict[str, Any] = field(default_factory=dict)
    received_ns: int = field(default_factory=time.time_ns)


class MarketStream:
    def __init__(
        self,
        ws_url: str,
        *,
        token: TokenProvider | None = None,
        api_key: ApiKey | None = None,
        ping_every_s: float = 300.0,
        reconnect_after_s: float = 110 * 60.0,
        backoff_s: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        self._ws_url = ws_url
        self._token = token
        self._api_key = api_key
        self._ping_every_s = ping_every_s
        self._reconnect_after_s = reconnect_after_s
        self._backoff_s = backoff_s
        self.channels: set[str] = set()
        self.books: dict[str, LocalBook] = {}
        self.statuses: dict[str, SymbolStatus] = {}
        self.reconnects = 0
        self.gaps = 0
        self._events: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run())

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    # -- subscriptions ---------------------------------------------------------------------------
    async def subscribe(self, channel: str) -> None:
        self.channels.add(channel)
        if channel.startswith("book."):
            self.books.setdefault(channel.removeprefix("book."), LocalBook(channel[5:]))
        await self._send({"action": "subscribe", "channel": channel})

    async def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)
        await self._send({"action": "unsubscribe", "channel": channel})

    async def _send(self, message: dict[str, Any]) -> None:
        socket = self._socket
        if socket is not None and not socket.closed:
            await socket.send_str(json.dumps({**message, "id": str(next(self._ids))}))
        # Not connected: the channel is in self.channels and is subscribed on (re)connect.

    # -- events ----------------------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[StreamEvent]:
        while True:
            yield await self._events.get()

    async def next_event(self, timeout_s: float) -> StreamEvent:
        return await asyncio.wait_for(self._events.get(), timeout_s)

    # -- the connection --------------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._connect_and_read()
                attempt = 0
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self._emit("reconnecting", None, {"error": repr(exc)})
            self._connected.clear()
            self._socket = None
            self.reconnects += 1
            await asyncio.sleep(self._backoff_s[min(attempt, len(self._backoff_s) - 1)])
            attempt += 1

    async def _connect_and_read(self) -> None:
        assert self._session is not None  # noqa: S101 - start() made it
        if self._api_key is not None:
            params = self._api_key.ws_parameters()  # signed afresh for each connection
        else:
            params = {"token": await self._token()} if self._token else {}
        async with self._session.ws_connect(self._ws_url, params=params, heartbeat=None) as socket:
            self._socket = socket
            for book in self.books.values():
                book.reset()
            for channel in sorted(self.channels):
                await self._send({"action": "subscribe", "channel": channel})
            self._connected.set()
            self._emit("connected", None)
            opened = time.monotonic()
            while time.monotonic() - opened < self._reconnect_after_s:
                try:
                    message = await socket.receive(timeout=self._ping_every_s)
                except TimeoutError:
                    await self._send({"action": "ping"})
                    continue
                if message.type is aiohttp.WSMsgType.TEXT:
                    await self._on_frame(json.loads(message.data, parse_float=Decimal))
                elif message.type in _CLOSED:
                    self._emit("reconnecting", None, {"close_code": socket.close_code})
                    return
            self._emit("reconnecting", None, {"reason": "connection age limit"})

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        channel = frame.get("channel")
        if kind == "snapshot" and isinstance(channel, str):
            book = self.books.setdefault(channel[5:], LocalBook(channel[5:]))
            try:
                book.apply_snapshot(frame)
            except (SeqGap, ChecksumMismatch) as gap:
                await self._rebuild(book, channel, gap)
                return
            self._emit("book", channel, frame)
        elif kind == "book" and isinstance(channel, str):
            book = self.books.setdefault(channel[5:], LocalBook(channel[5:]))
            try:
                if book.apply_frame(frame):
                    self._emit("book", channel, frame)
            except (SeqGap, ChecksumMismatch) as gap:
                await self._rebuild(book, channel, gap)
        elif kind in {"status_snapshot", "status"}:
            self._on_status(frame)
        elif kind in {"trades", "orders", "candle", "ticker", "balances"}:
            self._emit(str(kind), channel if isinstance(channel, str) else None, frame)
        elif kind == "error":
            self._emit("error", channel if isinstance(channel, str) else None, frame)
            if frame.get("code") == "snapshot_unavailable":
                asyncio.get_running_loop().call_later(1.0, self._resubscribe_soon, frame)

    def _on_status(self, frame: dict[str, Any]) -> None:
        """A snapshot (every symbol) or one change: keep, per symbol, the highest seq seen."""
        items = frame.get("markets") if frame.get("type") == "status_snapshot" else [frame]
        for item in items if isinstance(items, list) else []:
            symbol, status, seq = item.get("symbol"), item.get("status"), item.get("seq", 0)
            if not isinstance(symbol, str) or not isinstance(status, str):
                continue
            kept = self.statuses.get(symbol)
            if kept is None or int(seq) >= kept.seq:
                self.statuses[symbol] = SymbolStatus(symbol, status, int(seq))
        self._emit("status", STATUS_CHANNEL, frame)

    async def _rebuild(self, book: LocalBook, channel: str, why: Exception) -> None:
        """Drop a book gone wrong and resubscribe: the fresh snapshot rebuilds it."""
        self.gaps += 1
        self._emit("gap", channel, {"detail": str(why)})
        book.reset()
        await self._send({"action": "unsubscribe", "channel": channel})
        await self._send({"action": "subscribe", "channel": channel})

    def _resubscribe_soon(self, frame: dict[str, Any]) -> None:
        detail = str(frame.get("message", ""))
        for channel in [c for c in self.channels if c.startswith("book.")]:
            book = self.books.get(channel[5:])
            if book is not None and not book.ready and channel[5:] in detail:
                task = asyncio.ensure_future(
                    self._send({"action": "subscribe", "channel": channel})
                )
                task.add_done_callback(lambda t: t.exception())

    def _emit(self, kind: str, channel: str | None, data: dict[str, Any] | None = None) -> None:
        self._events.put_nowait(StreamEvent(kind, channel, data or {}))
