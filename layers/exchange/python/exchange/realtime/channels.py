"""Channels a WebSocket client subscribes to.

Public: ``book.{symbol}`` (L2 snapshot, then deltas), ``trades.{symbol}``,
``candles.{symbol}.{interval}`` (``1m``, ``5m``, ``1h``, ``1d``), ``ticker.{symbol}`` (24 h
statistics), ``status`` (every symbol's trading status: all of them on subscribe, then each
change; no symbol in its name). Private, for authenticated connections only: ``orders`` (the
account's own order events and fills) and ``balances`` (its balances after each change).

A subscription is stored under the channel's *key*: its name for a public channel, and
``{name}.{account_id}`` for a private one (``orders.{account_id}``, ``balances.{account_id}``),
so a publisher finds one account's connections with one index query. The account comes from the
connection's verified identity, never from the message; a client cannot name a key itself
(``orders.x`` is not a channel).

>>> from exchange.domain import InstrumentCatalog
>>> parse_channel("candles.BTC-USD.5m", InstrumentCatalog.demo()).key(None)
'candles.BTC-USD.5m'
>>> parse_channel("orders", InstrumentCatalog.demo()).key("acct-1")
'orders.acct-1'
>>> parse_channel("balances", InstrumentCatalog.demo()).key("acct-1")
'balances.acct-1'
>>> parse_channel("ticker.BTC-USD", InstrumentCatalog.demo()).key(None)
'ticker.BTC-USD'
>>> parse_channel("status", InstrumentCatalog.demo()).key(None)
'status'
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from exchange.domain.candles import CANDLE_INTERVALS
from exchange.domain.errors import ExchangeError
from exchange.domain.instruments import InstrumentCatalog


class ChannelKind(StrEnum):
    BOOK = "book"
    TRADES = "trades"
    CANDLES = "candles"
    TICKER = "ticker"
    STATUS = "status"
    ORDERS = "orders"
    BALANCES = "balances"


PRIVATE: Final = frozenset({ChannelKind.ORDERS, ChannelKind.BALANCES})
# How many dot-separated parts each kind's name has (the rest: kind and symbol).
_PARTS: Final = {
    ChannelKind.ORDERS: 1,
    ChannelKind.BALANCES: 1,
    ChannelKind.STATUS: 1,
    ChannelKind.CANDLES: 3,
}
# The public channels of no one symbol: one name, and one key, for everybody.
_UNSCOPED: Final = frozenset({ChannelKind.STATUS})
STATUS_CHANNEL: Final = ChannelKind.STATUS.value


class InvalidChannel(ExchangeError):
    code = "invalid_channel"


class UnknownSymbol(InvalidChannel):
    code = "unknown_symbol"


@dataclass(frozen=True, slots=True)
class Channel:
    kind: ChannelKind
    symbol: str | None = None
    interval: str | None = None

    @property
    def name(self) -> str:
        return ".".join(part for part in (self.kind.value, self.symbol, self.interval) if part)

    @property
    def private(self) -> bool:
        return self.kind in PRIVATE

    def key(self, account_id: str | None) -> str:
        """Where the subscription is stored; a private channel needs the account."""
        if not self.private:
            return self.name
        if not account_id:
            raise InvalidChannel(f"the {self.name} channel needs an authenticated connection")
        return f"{self.kind.value}.{account_id}"


def orders_key(account_id: str) -> str:
    return Channel(ChannelKind.ORDERS).key(account_id)


def balances_key(account_id: str) -> str:
    return Channel(ChannelKind.BALANCES).key(account_id)


def book_channel(symbol: str) -> str:
    return f"{ChannelKind.BOOK.value}.{symbol}"


def trades_channel(symbol: str) -> str:
    return f"{ChannelKind.TRADES.value}.{symbol}"


def candles_channel(symbol: str, interval: str) -> str:
    return f"{ChannelKind.CANDLES.value}.{symbol}.{interval}"


def ticker_channel(symbol: str) -> str:
    return f"{ChannelKind.TICKER.value}.{symbol}"


def parse_channel(text: str, catalog: InstrumentCatalog) -> Channel:
    """The channel a client named; InvalidChannel or UnknownSymbol saying what was wrong."""
    parts = text.split(".")
    try:
        kind = ChannelKind(parts[0])
    except ValueError:
        raise InvalidChannel(
            f"unknown channel {text!r}; use book.SYMBOL, trades.SYMBOL, "
            "candles.SYMBOL.INTERVAL, ticker.SYMBOL, status, orders or balances"
        ) from None
    if len(parts) != _PARTS.get(kind, 2):
        raise InvalidChannel(f"malformed {kind.value} channel {text!r}")
    if kind in PRIVATE or kind in _UNSCOPED:
        return Channel(kind)
    symbol = parts[1]
    if symbol not in catalog:
        raise UnknownSymbol(f"unknown symbol {symbol!r} in channel {text!r}")
    if kind is ChannelKind.CANDLES:
        if parts[2] not in CANDLE_INTERVALS:
            raise InvalidChannel(
                f"unknown candle interval {parts[2]!r}; use one of {', '.join(CANDLE_INTERVALS)}"
            )
        return Channel(kind, symbol, parts[2])
    return Channel(kind, symbol)
