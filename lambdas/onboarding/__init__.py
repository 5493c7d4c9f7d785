"""The onboarding function: the user pool's post-confirmation trigger (see lambdas/catalog.py)."""
