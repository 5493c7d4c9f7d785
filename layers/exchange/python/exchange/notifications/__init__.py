"""Notifications: the journal notifier (fills), the ledger outbox relay, security notices,
the SNS publisher and the SES emailer that follows each user's preferences (issue 18)."""
