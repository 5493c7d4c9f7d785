"""Consuming the engine's journal (the Kinesis stream): what every journal consumer shares.

- ``batch``: Kinesis batches of journal records, idempotent on ``(symbol, seq)``, gaps refused,
  partial batch failure reported (Powertools ``BatchProcessor``), and ``kinesis_handler``.
- ``cursors``: how far each consumer got per symbol (the ``cursors`` table), and the sink base
  that keeps it.
- ``audit`` (the hash chain and its verifier, pure) and ``audit_log`` (its table, and the command
  ``python -m exchange.journal.audit_log verify --symbol S``).

The consumers themselves live with their capability: ``orders.recorder``, ``ledger.consumer``,
``market.candles``, ``realtime.fanout``.
"""
