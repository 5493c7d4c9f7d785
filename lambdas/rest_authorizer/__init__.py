"""The rest_authorizer Lambda function, the REST API's REQUEST authorizer (lambdas/catalog.py)."""
