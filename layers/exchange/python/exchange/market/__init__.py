"""Market data: what the markets function serves and what the candles consumer keeps.

- ``books``: the book store port, its Redis adapter, and advancing a book by journal deltas.
- ``service``: the markets function's logic (instruments, book, trades, candles).
- ``candles``: the OHLCV consumer; ``dynamo``: trades and candles on DynamoDB.
- ``errors``: the typed errors of the market-data reads.
"""
