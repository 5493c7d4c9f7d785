"""Operators' tools over the running exchange.

- ``service``: the reconciliation: the engine's snapshots, the orders table and the ledger
  reconciled (open orders and holds, solvency per asset, fills against settlement), with metrics
  and a dated report; ``checks`` holds the comparisons and the in-flight rules, ``model`` the
  facts and the report, ``ports`` what it reads and writes; ``reconciliation`` runs it once by
  hand (``python -m exchange.operations.reconciliation``).
- Adapters: ``snapshot_reader`` (the engine's snapshots in Redis and S3), ``dynamo`` (the orders
  and trades tables, the consumers' progress), ``reports`` (the reports bucket); the ledger's
  reads are ``exchange.ledger.postgres.audit_reads``. ``composition`` builds the graph.
"""
