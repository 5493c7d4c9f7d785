"""The archive's Firehose transform function (see lambdas/money.py)."""
