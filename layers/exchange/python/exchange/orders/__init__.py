"""Orders: placing, amending and cancelling them (the orders function), and recording what the
engine did to them (the recorder consumer).

- ``model``, ``errors``: orders, fills, pages and the typed errors of the order logic.
- ``service``: the orders function's logic (validate, hold, record, publish) over its ports:
  ``store`` (the order store; ``dynamo`` on DynamoDB), ``publisher`` (the command sink;
  RabbitMQ / Amazon MQ), ``idempotency`` (Powertools Idempotency) and the ledger's port.
- ``lifecycle``: the order state machine, where an engine event becomes an order row and a fill.
- ``recorder`` and ``recorder_dynamo``: the journal consumer that writes orders, fills, trades,
  the events table and the audit log.
"""
