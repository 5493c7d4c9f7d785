"""The health REST function (see lambdas/catalog.py)."""
