"""The exchange's shared code, shipped to Lambda as a layer (``layers/exchange``) and imported by
the engine service, local mode and the tests.

Organized by capability over a small kernel; imports go one way only (downwards in this list),
which import-linter checks in ``make test`` (``[tool.importlinter]`` in pyproject.toml):

- ``testing``: in-memory fakes and AWS event builders, for tests, benchmarks and local tools.
- ``http``: the REST API's HTTP side (routes, schemas, problem+json, OpenAPI).
- ``health``: ``GET /v1/health``, every dependency trading needs (ledger, broker, Redis, each
  engine shard's heartbeat, the consumers' lag).
- ``realtime``: the WebSocket API (authorizer, sessions, fan-out of the journal).
- ``orders`` | ``market``: placing, amending and cancelling orders, and recording them from the
  journal; the market data (books, trades, candles).
- ``ledger``: accounts, holds, settlement, deposits and withdrawals on PostgreSQL.
- ``journal``: consuming the engine's Kinesis journal (batches, cursors, the audit chain).
- kernel: ``domain`` (pure types and rules: no I/O, no AWS SDK), ``wire``, ``l2`` (the L2 book the
  engine publishes), ``ids``, ``settings``, ``observability``, ``aws``, ``tables``, ``messaging``,
  ``heartbeat`` (the engine's heartbeat key and format) and ``composition``.

An order's path by folder: ``http/routes/orders.py`` -> ``orders/service.py`` (hold in
``ledger/``, row in ``orders/dynamo.py``, command through ``orders/publisher.py``) -> the engine
(``engine_service/``) -> the journal -> ``orders/recorder.py``, ``ledger/consumer.py`` and
``realtime/fanout.py``.
"""

__version__ = "0.1.0"
