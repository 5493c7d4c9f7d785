"""The assets ``GET /v1/assets`` lists: every asset the instrument catalog trades (as a base or a
quote), with the ledger's scale for it and its deposit and withdrawal status.

Where each fact comes from:
- which assets: the instrument catalog (an asset no instrument trades is not listed);
- ``scale``: the decimal places the ledger keeps balances and charges fees at
  (``AssetScaleSettings.ledger_asset_scales``); an amount with more places is refused;
- ``name``, ``display_decimals`` and the statuses: ``exchange/data/assets.json``. An asset it
  does not name is listed under its code, shown at its ledger scale, with both directions enabled.

Withdrawal minimums and fees are not listed: the ledger enforces neither, so the API would
promise what nothing checks.

>>> from exchange.domain.instruments import InstrumentCatalog
>>> [a.asset for a in asset_catalog(InstrumentCatalog.demo(), {"USD": 8, "BTC": 8, "ETH": 18,
...  "SOL": 9})]
['BTC', 'ETH', 'SOL', 'USD']
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from exchange.domain.errors import ConfigurationError
from exchange.domain.instruments import AssetCode, InstrumentCatalog


class TransferStatus(StrEnum):
    ENABLED = "enabled"
    SUSPENDED = "suspended"


class AssetConfig(BaseModel):
    """One entry of ``assets.json``: what the catalog and the ledger do not say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: AssetCode
    name: Annotated[str, Field(min_length=1, max_length=64)]
    display_decimals: Annotated[int, Field(ge=0, le=18)]
    deposit: TransferStatus = TransferStatus.ENABLED
    withdrawal: TransferStatus = TransferStatus.ENABLED


@dataclass(frozen=True, slots=True)
class AssetInfo:
    asset: str
    name: str
    scale: int
    display_decimals: int
    deposit: TransferStatus
    withdrawal: TransferStatus
    markets: tuple[str, ...]


_CONFIGS = TypeAdapter(list[AssetConfig])


def shipped_asset_configs() -> dict[str, AssetConfig]:
    """``exchange/data/assets.json``, by asset."""
    text = resources.files("exchange.data").joinpath("assets.json").read_text()
    return parse_asset_configs(text)


def parse_asset_configs(text: str) -> dict[str, AssetConfig]:
    try:
        configs = _CONFIGS.validate_python(json.loads(text))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"invalid asset configuration: {exc}") from exc
    by_asset = {config.asset: config for config in configs}
    if len(by_asset) != len(configs):
        raise ConfigurationError("asset configuration names an asset twice")
    return by_asset


def asset_catalog(
    instruments: InstrumentCatalog,
    scales: Mapping[str, int],
    configs: Mapping[str, AssetConfig] | None = None,
) -> list[AssetInfo]:
    """The listed assets, by code. Raises ConfigurationError for a traded asset the ledger has
    no scale for (its balances could not be kept), so a bad deployment fails at start-up."""
    configs = shipped_asset_configs() if configs is None else configs
    markets: dict[str, list[str]] = {}
    for instrument in instruments:
        for asset in (instrument.base, instrument.quote):
            markets.setdefault(asset, []).append(instrument.symbol)
    missing = sorted(set(markets) - set(scales))
    if missing:
        raise ConfigurationError(f"no ledger asset scale for {', '.join(missing)}")
    return [
        _info(asset, scales[asset], configs.get(asset), markets[asset]) for asset in sorted(markets)
    ]


def _info(asset: str, scale: int, config: AssetConfig | None, markets: Sequence[str]) -> AssetInfo:
    if config is None:
        config = AssetConfig(asset=asset, name=asset, display_decimals=scale)
    return AssetInfo(
        asset=asset,
        name=config.name,
        scale=scale,
        display_decimals=min(config.display_decimals, scale),
        deposit=config.deposit,
        withdrawal=config.withdrawal,
        markets=tuple(sorted(markets)),
    )
