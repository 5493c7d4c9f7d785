"""The emailer Lambda function (see lambdas/catalog.py)."""
