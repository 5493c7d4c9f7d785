"""The candles Lambda function (see lambdas/catalog.py)."""
