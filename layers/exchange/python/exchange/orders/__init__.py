"""Orders: placing, amending and cancelling them (the orders function), and recording what the
engine did to them (the recorder consumer).

- ``model``, ``errors``: orders, fills, pages and the typed errors of the order logic.
- ``service``: the orders function's logic over its ports: ``store`` (the order store;
  ``dynamo`` on DynamoDB), ``keys`` (each key's order and each account's open-order slots;
  ``keys_dynamo``), ``publisher`` (the command sink with a deadline; RabbitMQ / Amazon MQ through
  ``confirm_link``), ``idempotency`` (Powertools Idempotency) and the ledger's port. ``terms``
  checks an order against its instrument (bounds, protection price); ``placement`` places it
  once per key (claim, hold, record, publish, and a cancel when the publish is unconfirmed).
- ``lookup`` (the open-orders and client-id reads, ``DynamoOrderLookup`` in ``dynamo``),
  ``mass_cancel`` (one cancel per open order: ``DELETE /v1/orders``, the dead man's switch) and
  ``cancel_after`` (the dead man's switch and its timers; ``cancel_after_aws`` on DynamoDB and
  SQS, fired by the ``cancel_after`` function).
- ``lifecycle``: the order state machine, where an engine event becomes an order row and a fill.
- ``recorder`` and ``recorder_dynamo``: the journal consumer that writes orders, fills, trades,
  the events table and the audit log.
"""
