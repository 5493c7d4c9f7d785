"""An in-memory WebSocket world: connections, a sender, books, cursors and statuses."""

import json
from dataclasses import dataclass, field
from typing import Any

from exchange.domain import InstrumentCatalog
from exchange.l2 import L2Book
from exchange.realtime.book_tracker import TrackedBooks
from exchange.realtime.fanout import Broadcaster, Fanout
from exchange.realtime.session import Session, open_connection
from exchange.realtime.statuses import InMemoryStatusBoard
from exchange.testing.stores import (
    InMemoryBookStore,
    InMemoryConnectionStore,
    InMemoryCursorStore,
    InMemorySender,
)
from tests.unit.streams.helpers import CATALOG


class InMemoryTrackedBooks(TrackedBooks):
    def __init__(self) -> None:
        self.books: dict[str, L2Book] = {}

    def get(self, symbol: str) -> L2Book | None:
        return self.books.get(symbol)

    def put(self, book: L2Book) -> None:
        self.books[book.symbol] = book


@dataclass
class World:
    connections: InMemoryConnectionStore = field(default_factory=InMemoryConnectionStore)
    sender: InMemorySender = field(default_factory=InMemorySender)
    books: InMemoryBookStore = field(default_factory=InMemoryBookStore)
    cursors: InMemoryCursorStore = field(default_factory=InMemoryCursorStore)
    tracked: InMemoryTrackedBooks = field(default_factory=InMemoryTrackedBooks)
    statuses: InMemoryStatusBoard = field(default_factory=InMemoryStatusBoard)
    catalog: InstrumentCatalog = CATALOG

    @property
    def session(self) -> Session:
        return Session(
            self.connections,
            self.sender,
            self.books,
            self.catalog,
            clock=lambda: 42,
            statuses=self.statuses,
        )

    @property
    def fanout(self) -> Fanout:
        broadcaster = Broadcaster(self.connections, self.sender)
        return Fanout(
            broadcaster,
            self.books,
            self.cursors,
            catalog=self.catalog,
            tracked=self.tracked,
            statuses=self.statuses,
        )

    def connect(self, connection_id: str, account_id: str | None = None) -> None:
        open_connection(self.connections, connection_id, account_id, now_ns=10**18)

    def send(self, connection_id: str, message: dict[str, Any] | str) -> dict[str, Any]:
        body = message if isinstance(message, str) else json.dumps(message)
        return self.session.message(connection_id, body)

    def received(self, connection_id: str) -> list[dict[str, Any]]:
        frames: list[dict[str, Any]] = [
            json.loads(data) for data in self.sender.frames(connection_id)
        ]
        return frames
