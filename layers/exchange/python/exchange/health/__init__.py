"""``GET /v1/health``: whether trading can work here, dependency by dependency.

- ``model``: the checks' statuses, what makes the answer ``ok``, ``degraded`` or ``unhealthy``
  (pure), an engine shard's heartbeat and the journal consumers' lag judged;
- ``service``: ``HealthService`` runs the probes at once under one deadline, caches the report
  and emits a metric per check that is not ok;
- ``probes``: the real probes (ledger database, broker, Redis with the engine's heartbeats, the
  ``cursors`` table).

The engine writes its heartbeats (``exchange.heartbeat``); the route is ``http/routes/health.py``.
"""
