"""The dead-letter function, on each shard's dead-letter queue (see lambdas/catalog.py)."""
