"""GET /v1/assets' content: which assets, at which ledger scale, with which transfer status."""

import json

import pytest

from exchange.domain.errors import ConfigurationError
from exchange.domain.instruments import InstrumentCatalog
from exchange.market.assets import (
    AssetInfo,
    TransferStatus,
    asset_catalog,
    parse_asset_configs,
    shipped_asset_configs,
)
from exchange.settings import DEFAULT_ASSET_SCALES

DEMO = InstrumentCatalog.demo()
ENABLED = TransferStatus.ENABLED


def test_the_demo_catalog_lists_its_four_assets_at_the_ledgers_scales() -> None:
    assets = {a.asset: a for a in asset_catalog(DEMO, DEFAULT_ASSET_SCALES)}
    assert assets["BTC"] == AssetInfo("BTC", "Bitcoin", 8, 8, ENABLED, ENABLED, ("BTC-USD",))
    assert assets["USD"] == AssetInfo(
        "USD", "US Dollar", 8, 2, ENABLED, ENABLED, ("BTC-USD", "ETH-USD", "SOL-USD")
    )
    assert {a: i.scale for a, i in assets.items()} == {
        a: DEFAULT_ASSET_SCALES[a] for a in ("BTC", "ETH", "SOL", "USD")
    }
    assert list(assets) == sorted(assets)


def test_every_shipped_asset_has_a_ledger_scale_and_is_shown_within_it() -> None:
    # The shipped file configures each asset the demo catalog trades, and those a market listed
    # at run time may trade (ACME: the ledger keeps it, no market is seeded), never past their
    # scale
    configs = shipped_asset_configs()
    traded = {asset for i in DEMO for asset in (i.base, i.quote)}
    assert traded <= set(configs) <= set(DEFAULT_ASSET_SCALES)
    assert all(c.display_decimals <= DEFAULT_ASSET_SCALES[a] for a, c in configs.items())


def test_an_asset_is_listed_once_a_market_trades_it() -> None:
    # Given ACME, which the ledger keeps but no market trades yet
    assert "ACME" not in {a.asset for a in asset_catalog(DEMO, DEFAULT_ASSET_SCALES)}
    # When an operator lists ACME-USD
    acme = DEMO.get("SOL-USD").model_copy(update={"symbol": "ACME-USD", "base": "ACME"})
    listed = InstrumentCatalog([*DEMO, acme])
    # Then ACME is listed, with its market
    assets = {a.asset: a for a in asset_catalog(listed, DEFAULT_ASSET_SCALES)}
    assert (assets["ACME"].scale, assets["ACME"].markets) == (0, ("ACME-USD",))


def test_a_suspended_withdrawal_is_listed_as_such() -> None:
    configs = parse_asset_configs(
        json.dumps(
            [{"asset": "BTC", "name": "Bitcoin", "display_decimals": 8, "withdrawal": "suspended"}]
        )
    )
    btc = next(a for a in asset_catalog(DEMO, DEFAULT_ASSET_SCALES, configs) if a.asset == "BTC")
    assert (btc.deposit, btc.withdrawal) == (ENABLED, TransferStatus.SUSPENDED)


def test_an_unconfigured_asset_shows_its_code_at_its_ledger_scale_enabled_both_ways() -> None:
    eth = next(a for a in asset_catalog(DEMO, DEFAULT_ASSET_SCALES, {}) if a.asset == "ETH")
    assert eth == AssetInfo("ETH", "ETH", 18, 18, ENABLED, ENABLED, ("ETH-USD",))


def test_a_traded_asset_without_a_ledger_scale_fails_at_start_up() -> None:
    scales = {k: v for k, v in DEFAULT_ASSET_SCALES.items() if k != "SOL"}
    with pytest.raises(ConfigurationError, match="SOL"):
        asset_catalog(DEMO, scales)


@pytest.mark.parametrize(
    "text",
    [
        '[{"asset": "BTC", "name": "B", "display_decimals": 8, "deposit": "paused"}]',
        '[{"asset": "BTC", "name": "B", "display_decimals": 8, "fee": "1"}]',
        '[{"asset": "BTC", "name": "B", "display_decimals": 8},'
        ' {"asset": "BTC", "name": "C", "display_decimals": 8}]',
        "{}",
    ],
)
def test_a_bad_asset_configuration_is_refused(text: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_asset_configs(text)
