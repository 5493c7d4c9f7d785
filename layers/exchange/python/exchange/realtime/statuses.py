"""The ``status`` channel's state: each symbol's trading status, and the journal seq that set it.

Fan-out posts each ``TradingStatusChanged`` (and the first status of a symbol listed at run time)
to the channel; a new subscriber gets every listed symbol's status first (``snapshot``). The
instruments store alone cannot give that snapshot: the recorder writes the status there, another
consumer of the journal at its own pace, so a subscriber could register after fan-out posted a
change and still read the status before it, and never learn of the change. So fan-out keeps its
own copy, as it does for books (``market.books``): before it posts a change it writes it here,
and a subscriber, which registers before it reads, gets a snapshot that holds a change or that
change's frame, never neither. The snapshot takes, per symbol, the newer (by seq) of fan-out's
copy and the catalog's listing (the store's status, or the file's for a symbol never changed).

>>> from exchange.domain import InstrumentCatalog, InstrumentStatus
>>> board = InMemoryStatusBoard()
>>> board.put(MarketStatus(symbol="SOL-USD", status=InstrumentStatus.HALTED, seq=9))
>>> [(s.symbol, s.status.value, s.seq) for s in snapshot(InstrumentCatalog.demo(), board)]
[('BTC-USD', 'TRADING', 0), ('ETH-USD', 'TRADING', 0), ('SOL-USD', 'HALTED', 9)]
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Final

import msgspec
import redis

from exchange.domain.enums import InstrumentStatus
from exchange.domain.instruments import InstrumentCatalog
from exchange.market.listings import listings

STATUS_PREFIX: Final = "fanout:status:"


class MarketStatus(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    status: InstrumentStatus
    seq: int  # the journal seq that set it; 0: the listing's own, never changed since


_decoder = msgspec.json.Decoder(MarketStatus)


class StatusBoard(ABC):
    """Fan-out's copy of the statuses it posted."""

    @abstractmethod
    def get(self, symbols: Sequence[str]) -> dict[str, MarketStatus]:
        """The statuses held of ``symbols`` (a symbol fan-out never posted is absent)."""

    @abstractmethod
    def put(self, status: MarketStatus) -> None: ...


class RedisStatusBoard(StatusBoard):
    """``fanout:status:{symbol}`` beside the books. Plain SET: only fan-out writes it, and a
    symbol's records reach fan-out in order (its partition key), so a later write is a later
    seq; one MGET reads a snapshot."""

    def __init__(self, client: Callable[[], redis.Redis], *, prefix: str = STATUS_PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    def get(self, symbols: Sequence[str]) -> dict[str, MarketStatus]:
        if not symbols:
            return {}
        raw: list[bytes | None] = self._client().mget([self._prefix + s for s in symbols])  # type: ignore[assignment]
        found = (_decoder.decode(value) for value in raw if value is not None)
        return {status.symbol: status for status in found}

    def put(self, status: MarketStatus) -> None:
        self._client().set(self._prefix + status.symbol, msgspec.json.encode(status))


class InMemoryStatusBoard(StatusBoard):
    """The board in a dict: a process without Redis (tests, tools)."""

    def __init__(self) -> None:
        self.statuses: dict[str, MarketStatus] = {}

    def get(self, symbols: Sequence[str]) -> dict[str, MarketStatus]:
        return {s: self.statuses[s] for s in symbols if s in self.statuses}

    def put(self, status: MarketStatus) -> None:
        self.statuses[status.symbol] = status


def snapshot(catalog: InstrumentCatalog, board: StatusBoard | None) -> list[MarketStatus]:
    """Every listed symbol's status, by symbol: the newer of the catalog's and the board's."""
    listed = [
        MarketStatus(symbol=item.symbol, status=item.status, seq=item.status_seq)
        for item in listings(catalog)
    ]
    posted = {} if board is None else board.get([item.symbol for item in listed])
    return [
        max(item, posted.get(item.symbol, item), key=lambda status: status.seq) for item in listed
    ]
