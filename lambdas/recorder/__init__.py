"""The recorder Lambda function (see lambdas/catalog.py)."""
