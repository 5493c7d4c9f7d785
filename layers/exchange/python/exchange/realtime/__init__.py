"""The WebSocket API: channels, frames, the connection store, the Management API sender, Cognito
JWT verification for ``$connect``, subscriptions, and fan-out of journal events.

- ``channels`` and ``frames``: what clients subscribe to and the JSON they receive.
- ``connections``, ``sender``, ``books``: ports with real (DynamoDB, API Gateway Management API,
  Redis) and in-memory implementations.
- ``auth``: the ``$connect`` authorizer's token check; ``session``: connect, disconnect,
  subscribe, unsubscribe, ping; ``fanout``: the journal consumer that pushes to subscribers.
- ``wiring``: building each handler's dependencies from its settings.
"""
