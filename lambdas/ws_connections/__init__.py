"""The ws_connections Lambda function (see lambdas/catalog.py)."""
