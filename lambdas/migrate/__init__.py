"""The migrate function: runs once per deploy (see lambdas/catalog.py)."""
