"""The WebSocket API: channels, frames, the connection store, the Management API sender, the
``$connect`` authorizer's checks, subscriptions, and the publishers of each channel.

- ``channels`` and ``frames``: what clients subscribe to and the JSON they receive (the frame
  shapes are in ``frames``'s docstring); ``checksum``: the book frames' checksum.
- ``connections`` and ``sender``: ports with real adapters (DynamoDB, the API Gateway Management
  API); the L2 books come from ``market.books``.
- ``auth``: the ``$connect`` authorizer's checks; ``session``: connect, disconnect, subscribe,
  unsubscribe, ping.
- Publishers: ``fanout`` (the journal consumer: books with ``book_tracker``'s checksums, trades,
  and ``tickers``), ``orders_feed`` (the recorder: order events and fills), ``balances`` (the
  ledger writers: settlement, deposits, withdrawals); candles come from ``market.candles``.
"""
