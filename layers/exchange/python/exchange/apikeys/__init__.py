"""API keys for programs.

- ``signing``: the request signature (HMAC-SHA256), shared in spirit with the client's copy;
  ``scopes``: which routes a key may call, with which scope.
- ``model``: a key, what a new one may be, its id and secret; ``errors``: the typed errors.
- ``service``: creating, listing and revoking keys; ``store`` (the port), ``store_dynamo`` (the
  ``api_keys`` table, the ``audit`` table), ``cipher`` (KMS) and ``audit`` (the per-account chain
  of security events).
- ``verifier``: checking a signed request (REST) or ``$connect`` (WebSocket) against its key;
  ``authorizer``: the REST API's Lambda REQUEST authorizer (token or key); ``binding``: the parts
  of an event a signature binds, read alike by the authorizer and the handler.
- ``limiter``: each key's rate limit (a fixed window in the ``rate_limits`` table).
"""
