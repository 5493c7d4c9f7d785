"""Typed errors of the market-data reads. Each has a ``code``; ``exchange.http.problems`` maps
codes to HTTP statuses in one table."""

from exchange.domain.errors import ExchangeError


class MarketNotFound(ExchangeError):
    code = "market_not_found"


class BookUnavailable(ExchangeError):
    """No book snapshot has been published for the symbol yet."""

    code = "book_unavailable"
