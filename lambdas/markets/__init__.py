"""The markets REST function (see lambdas/catalog.py)."""
