"""The payout worker, on the payout queue (see lambdas/money.py)."""
