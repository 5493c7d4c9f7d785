"""Payouts: the payment provider port (HTTPS adapter and local fake), signed payout webhooks,
the payout worker and the stuck-payout sweeper (issue 18)."""
