"""The account function's settings and real adapters, made once per container (on first use)."""

from functools import cache

from exchange.api.settings import AccountSettings
from exchange.settings import load_settings
from exchange.trading import wiring
from exchange.trading.accounts import AccountService
from exchange.trading.postgres import PostgresAccountDirectory


@cache
def settings() -> AccountSettings:
    config: AccountSettings = load_settings(AccountSettings)
    return config


@cache
def account_service() -> AccountService:
    config = settings()
    ledger, pool = wiring.ledger(config, wiring.instruments(config))
    return AccountService(ledger=ledger, directory=PostgresAccountDirectory(pool))
