"""The account REST function (see lambdas/catalog.py)."""
