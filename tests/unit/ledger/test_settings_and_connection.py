"""Ledger settings from the environment, and credentials from Secrets Manager (stubbed)."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from exchange.domain import ConfigurationError
from exchange.ledger.connection import conninfo_provider, secrets_manager_conninfo
from exchange.settings import LedgerSettings, load_settings


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


def test_settings_read_url_and_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://u@h:5432/db")
    monkeypatch.setenv("EXCHANGE_LEDGER_POOL_SIZE", "3")
    settings = load_settings(LedgerSettings)
    assert settings.ledger_pool_size == 3
    assert settings.ledger_asset_scales["USD"] == 8
    assert conninfo_provider(settings)() == "postgresql://u@h:5432/db"


def test_protection_prices_are_no_setting_any_more(monkeypatch: pytest.MonkeyPatch) -> None:
    # Market and stop buys hold at the protection price their command carries; a static price
    # per deployment would go stale as the market moves (and hold too little).
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("EXCHANGE_LEDGER_PROTECTION_PRICES", '{"BTC-USD": "150000"}')
    settings = load_settings(LedgerSettings)
    assert not any("protection" in name for name in type(settings).model_fields)


def test_a_database_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_DATABASE_URL", raising=False)
    monkeypatch.delenv("EXCHANGE_DATABASE_SECRET_ARN", raising=False)
    with pytest.raises(ConfigurationError, match="EXCHANGE_DATABASE_URL"):
        load_settings(LedgerSettings)


class StubSecrets:
    def __init__(self, secret: dict[str, Any]) -> None:
        self.secret = secret
        self.calls = 0

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        assert SecretId == "arn:secret"
        return {"SecretString": json.dumps(self.secret)}


def test_secret_is_fetched_lazily_cached_and_refreshed_after_ttl() -> None:
    # Given a secrets client that is only built on first use, and a controllable clock
    stub = StubSecrets(
        {"host": "proxy", "port": 5432, "username": "app", "password": "p1", "dbname": "exchange"}
    )
    built: list[StubSecrets] = []
    now = [0.0]

    def factory() -> StubSecrets:
        built.append(stub)
        return stub

    provider = secrets_manager_conninfo("arn:secret", factory, ttl_seconds=60, clock=lambda: now[0])
    # Then nothing is called until a connection is needed
    assert built == []
    first = provider()
    assert "host=proxy" in first
    assert "password=p1" in first
    assert "sslmode=require" in first
    # And within the TTL the cached value is reused; after it, a rotated password is picked up
    stub.secret["password"] = "p2"  # noqa: S105 - a test value
    assert provider() == first
    now[0] = 61.0
    assert "password=p2" in provider()
    assert (len(built), stub.calls) == (1, 2)


def test_malformed_secret_names_the_problem_not_the_secret() -> None:
    stub = StubSecrets({"password": "hunter2"})
    provider = secrets_manager_conninfo("arn:secret", lambda: stub)
    with pytest.raises(ConfigurationError, match="KeyError") as raised:
        provider()
    assert "hunter2" not in str(raised.value)
