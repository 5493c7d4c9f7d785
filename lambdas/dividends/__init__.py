"""The dividends function, scheduled every minute (see lambdas/catalog.py)."""
