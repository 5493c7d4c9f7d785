"""Unit tests of the notifications: templates, notifier, relay, emailer, security notices."""
