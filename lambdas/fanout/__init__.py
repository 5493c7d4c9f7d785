"""The fanout Lambda function (see lambdas/catalog.py)."""
