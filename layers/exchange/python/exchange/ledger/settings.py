"""The ledger's typed settings, read once with ``exchange.settings.load_settings``.

Maps are JSON in the environment, with decimals as strings, e.g.
``EXCHANGE_LEDGER_PROTECTION_PRICES='{"BTC-USD": "150000"}'``.
"""

from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from exchange.domain.instruments import ExactDecimal
from exchange.settings import AwsSettings, DatabaseSettings, ObservabilitySettings, _Settings

# Decimal places per asset. A notional (tick x lot) must fit the quote's scale: BTC-USD's is
# 0.000001 and SOL-USD's 0.00001, so USD keeps 8 places.
DEFAULT_ASSET_SCALES: dict[str, int] = {"USD": 8, "BTC": 8, "ETH": 18, "SOL": 9}


class AssetScaleSettings(_Settings):
    """``EXCHANGE_LEDGER_ASSET_SCALES``: decimal places per asset. The ledger keeps balances and
    charges fees at these scales; the recorder reads the same variable so the fee a fill shows is
    the one settlement charges."""

    ledger_asset_scales: dict[str, Annotated[int, Field(ge=0, le=18)]] = Field(
        default_factory=lambda: dict(DEFAULT_ASSET_SCALES)
    )


class LedgerSettings(ObservabilitySettings, AwsSettings, DatabaseSettings, AssetScaleSettings):
    """The ledger's database, pool, fee account, protection prices and webhook rules."""

    # One request at a time per Lambda container: a pool of 1-2 is enough; more only for threads.
    ledger_pool_min: Annotated[int, Field(ge=0, le=50)] = 0
    ledger_pool_size: Annotated[int, Field(ge=1, le=50)] = 2
    # False behind RDS Proxy: prepared statements pin a proxy connection to the client.
    ledger_prepared_statements: bool = True
    ledger_fee_account_id: Annotated[str, Field(min_length=1, max_length=128)] = "fees"
    # Market (and stop) buys hold quote at this price per symbol.
    ledger_protection_prices: dict[str, Annotated[ExactDecimal, Field(gt=0)]] = Field(
        default_factory=dict
    )
    ledger_webhook_secret_arn: str | None = None
    ledger_webhook_tolerance_seconds: Annotated[int, Field(gt=0, le=3600)] = 300

    @model_validator(mode="after")
    def _database(self) -> Self:
        if not self.database_url and not self.database_secret_arn:
            raise ValueError("set EXCHANGE_DATABASE_URL or EXCHANGE_DATABASE_SECRET_ARN")
        if self.ledger_pool_min > self.ledger_pool_size:
            raise ValueError("ledger_pool_min must not exceed ledger_pool_size")
        return self

    def protection_price(self, symbol: str) -> Decimal | None:
        return self.ledger_protection_prices.get(symbol)
