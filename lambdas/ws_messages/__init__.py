"""The ws_messages Lambda function (see lambdas/catalog.py)."""
