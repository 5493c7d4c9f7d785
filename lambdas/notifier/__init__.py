"""The notifier Lambda function (see lambdas/catalog.py)."""
