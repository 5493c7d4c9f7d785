"""The reconciler function, scheduled every minute (see lambdas/catalog.py)."""
