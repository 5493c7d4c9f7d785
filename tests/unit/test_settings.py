"""Settings are typed, read once, and a bad environment is one typed error naming the variable."""

from collections.abc import Iterator

import pytest

from exchange.domain import ConfigurationError
from exchange.settings import EngineSettings, ObservabilitySettings, load_settings


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


@pytest.fixture
def engine_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("EXCHANGE_SHARD_ID", "shard-1")
    monkeypatch.setenv("EXCHANGE_SYMBOLS", "BTC-USD, ETH-USD")
    return monkeypatch


def test_engine_settings_read_from_environment(engine_env: pytest.MonkeyPatch) -> None:
    engine_env.setenv("EXCHANGE_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    engine_env.setenv("EXCHANGE_SNAPSHOT_EVERY_EVENTS", "500")
    engine_env.setenv("POWERTOOLS_SERVICE_NAME", "engine")
    settings = load_settings(EngineSettings)
    assert settings.shard_id == "shard-1"
    assert settings.symbols == ["BTC-USD", "ETH-USD"]
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert settings.snapshot_every_events == 500
    assert settings.service_name == "engine"
    assert settings.redis_url is None


def test_settings_are_read_once(engine_env: pytest.MonkeyPatch) -> None:
    first = load_settings(EngineSettings)
    engine_env.setenv("EXCHANGE_SHARD_ID", "shard-2")
    assert load_settings(EngineSettings) is first
    assert load_settings(EngineSettings).shard_id == "shard-1"


def test_settings_are_immutable(engine_env: pytest.MonkeyPatch) -> None:
    settings = load_settings(EngineSettings)
    with pytest.raises(ValueError, match="frozen"):
        settings.shard_id = "other"


def test_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_SHARD_ID", raising=False)
    monkeypatch.setenv("EXCHANGE_SYMBOLS", "BTC-USD")
    with pytest.raises(ConfigurationError, match="EXCHANGE_SHARD_ID: Field required"):
        load_settings(EngineSettings)


def test_bad_value_is_named_without_echoing_it(engine_env: pytest.MonkeyPatch) -> None:
    engine_env.setenv("EXCHANGE_HEALTH_PORT", "s3cr3t-not-a-port")
    with pytest.raises(ConfigurationError, match="EXCHANGE_HEALTH_PORT") as raised:
        load_settings(EngineSettings)
    assert "s3cr3t" not in str(raised.value)


def test_empty_symbol_list_is_refused(engine_env: pytest.MonkeyPatch) -> None:
    engine_env.setenv("EXCHANGE_SYMBOLS", " , ")
    with pytest.raises(ConfigurationError, match="EXCHANGE_SYMBOLS"):
        load_settings(EngineSettings)


def test_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CHATTY")
    with pytest.raises(ConfigurationError, match="POWERTOOLS_LOG_LEVEL"):
        load_settings(ObservabilitySettings)
