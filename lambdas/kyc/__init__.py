"""The kyc REST function (see lambdas/catalog.py)."""
