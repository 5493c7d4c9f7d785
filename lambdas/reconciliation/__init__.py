"""The reconciliation function, scheduled every 15 minutes (see lambdas/catalog.py)."""
