"""The stuck-payout sweeper, scheduled every five minutes (see lambdas/money.py)."""
