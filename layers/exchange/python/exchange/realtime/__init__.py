"""The WebSocket API: channels, frames, the connection store, the Management API sender, Cognito
JWT verification for ``$connect``, subscriptions, and fan-out of journal events.

- ``channels`` and ``frames``: what clients subscribe to and the JSON they receive.
- ``connections`` and ``sender``: ports with real adapters (DynamoDB, the API Gateway Management
  API); the L2 books come from ``market.books``.
- ``auth``: the ``$connect`` authorizer's token check; ``session``: connect, disconnect,
  subscribe, unsubscribe, ping; ``fanout``: the journal consumer that pushes to subscribers.
"""
