"""The deposits REST function (see lambdas/catalog.py)."""
