"""The api_keys REST function (see lambdas/catalog.py)."""
