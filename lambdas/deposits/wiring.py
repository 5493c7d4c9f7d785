"""The deposits function's settings and real adapters, made once per container (on first use)."""

from functools import cache

from exchange.api.settings import DepositsSettings
from exchange.settings import load_settings
from exchange.trading import wiring
from exchange.trading.deposits import DepositReceiver


@cache
def settings() -> DepositsSettings:
    config: DepositsSettings = load_settings(DepositsSettings)
    return config


@cache
def deposit_receiver() -> DepositReceiver:
    config = settings()
    ledger, _pool = wiring.ledger(config, wiring.instruments(config))
    return DepositReceiver(
        ledger=ledger,
        secrets=wiring.webhook_secrets(config),
        tolerance_seconds=config.ledger_webhook_tolerance_seconds,
    )
