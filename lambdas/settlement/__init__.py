"""The settlement Lambda function (see lambdas/catalog.py)."""
