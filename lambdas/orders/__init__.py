"""The orders REST function (see lambdas/catalog.py)."""
