"""The notices_relay Lambda function (see lambdas/catalog.py)."""
