"""The ws_authorizer Lambda function (see lambdas/catalog.py)."""
