"""The dead man's switch's SQS timer worker (see lambdas/catalog.py)."""
