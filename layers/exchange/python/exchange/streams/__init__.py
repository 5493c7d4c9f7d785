"""Journal consumers: what happens downstream of the engine's Kinesis stream.

- ``batch``: Kinesis batches of journal records, idempotent on ``(symbol, seq)``, gaps refused,
  partial batch failure reported (Powertools ``BatchProcessor``).
- ``cursors``: how far each consumer got per symbol (the ``cursors`` table), and the sink base
  that keeps it.
- ``orders``: the order state machine (pure); ``recorder``: orders, fills, trades, events and
  the audit log; ``audit``: the hash chain and its verifier (``python -m exchange.streams.audit``).
- ``candles``: OHLCV bars; ``settlement``: the ledger consumer.
- ``dynamo``: the DynamoDB implementations of the stores; ``wiring``: building each consumer from
  its settings.
"""
