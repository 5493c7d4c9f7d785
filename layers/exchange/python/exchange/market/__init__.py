"""Market data: what the markets function serves and what the candles consumer keeps.

- ``books``: the book store port, its Redis adapter, and advancing a book by journal deltas.
- ``service``: the markets function's logic (instruments, assets, time, book, tickers, trades,
  candles); ``model``: what its reads answer.
- ``ticker``: 24 h statistics from 1-minute bars and the book (REST and the ticker channel).
- ``history``: time-range pages of trades and candles; ``trade_range``: a time range's seq bounds
  on the trade tape.
- ``assets``: the listed assets, their ledger scale and transfer status.
- ``candles``: the OHLCV consumer; ``dynamo``: trades and candles on DynamoDB.
- ``errors``: the typed errors of the market-data reads.
"""
