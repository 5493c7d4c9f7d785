"""Which matching core the engine task runs (``EXCHANGE_ENGINE_CORE``): the image requires the
compiled one and refuses to start without it; ``auto`` (local mode) falls back to the pure-Python
core and says why; ``pure`` runs the reference; any other value is an error.

The compiled core is made unavailable (or available) by replacing what ``cores`` cached, so these
tests hold whether or not ``make build-engine`` ran.
"""

import dataclasses
import json
import logging
import urllib.request
from typing import Any

import pytest

from engine_service import __main__ as service
from engine_service.composition import choose_core
from engine_service.core import NativeCoreUnavailable, build, cores
from engine_service.health import HealthServer
from local.engine import engine_env, engines_core
from local.services import ServiceError

NOT_BUILT = NativeCoreUnavailable(
    "the compiled engine core is not built (No module named 'engine_service.core._ccore'): "
    "run `make build-engine`"
)


class SettingsReached(Exception):
    """Raised where ``run`` reads its settings: the core check let it through."""


def _native_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "_cache", {cores.NATIVE: NOT_BUILT})
    monkeypatch.setattr(cores, "_warned", False)


def _native_available(monkeypatch: pytest.MonkeyPatch) -> cores.Core:
    # A stand-in: the pure core's classes under the compiled core's name
    native = dataclasses.replace(cores.load(cores.PURE), name=cores.NATIVE)
    monkeypatch.setattr(cores, "_cache", {cores.NATIVE: native})
    monkeypatch.setattr(cores, "_warned", False)
    return native


def _stop_at_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    def load_settings(*_args: Any) -> None:
        raise SettingsReached

    monkeypatch.setattr(service, "load_settings", load_settings)


def test_the_image_refuses_to_start_without_the_compiled_core(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the image's setting and no loadable compiled core
    monkeypatch.setenv(cores.ENV, cores.NATIVE)
    _native_unavailable(monkeypatch)
    _stop_at_settings(monkeypatch)
    # When the task starts
    code = service.run()
    # Then it exits non-zero before reading its settings, saying why and the cure
    assert code == service.EXIT_NO_CORE != 0
    assert "not starting: the compiled engine core is not built" in caplog.text
    assert "make build-engine" in caplog.text


def test_the_image_starts_on_the_compiled_core_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the image's setting and a compiled core that loads
    monkeypatch.setenv(cores.ENV, cores.NATIVE)
    native = _native_available(monkeypatch)
    _stop_at_settings(monkeypatch)
    caplog.set_level(logging.INFO)
    # When the task starts, it goes on to its settings, having logged the core
    with pytest.raises(SettingsReached):
        service.run()
    assert "engine core: native (EXCHANGE_ENGINE_CORE=native)" in caplog.text
    assert choose_core().core is native


def test_auto_falls_back_to_the_pure_core_with_a_warning_that_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given no setting (auto) and no loadable compiled core
    monkeypatch.delenv(cores.ENV, raising=False)
    _native_unavailable(monkeypatch)
    _stop_at_settings(monkeypatch)
    # When the task starts
    with pytest.raises(SettingsReached):
        service.run()
    # Then it runs the pure core, and one warning says why and how to build the compiled one
    (record,) = [r for r in caplog.records if "engine core" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("engine core: pure (slower, same results), since the")
    assert "make build-engine" in record.getMessage()
    choice = choose_core()
    assert (choice.core.name, choice.requested) == (cores.PURE, cores.AUTO)


def test_the_core_resolver_warns_once_when_auto_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no loadable compiled core
    _native_unavailable(monkeypatch)
    # Then auto gives the pure core with a RuntimeWarning naming the cure, once per process
    with pytest.warns(RuntimeWarning, match="make build-engine"):
        assert cores.resolve(cores.AUTO).name == cores.PURE
    assert cores.resolve(cores.AUTO).name == cores.PURE  # no second warning (they are errors)


def test_auto_runs_the_compiled_core_when_it_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cores.ENV, cores.AUTO)
    native = _native_available(monkeypatch)
    choice = choose_core()
    assert choice.core is native
    assert choice.fallback is None


def test_pure_runs_the_reference_core_even_when_the_compiled_one_loads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given pure asked for explicitly
    monkeypatch.setenv(cores.ENV, cores.PURE)
    _native_available(monkeypatch)
    _stop_at_settings(monkeypatch)
    caplog.set_level(logging.INFO)
    # When the task starts, it runs the pure core without a warning
    with pytest.raises(SettingsReached):
        service.run()
    assert "engine core: pure (EXCHANGE_ENGINE_CORE=pure)" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert choose_core().core.name == cores.PURE


@pytest.mark.parametrize("value", ["nativ", "cython", "mypyc"])
def test_an_unknown_core_is_an_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    # Given a misspelled setting
    monkeypatch.setenv(cores.ENV, value)
    _stop_at_settings(monkeypatch)
    # Then the choice fails, and the task refuses to start, naming the choices
    with pytest.raises(ValueError, match="expected one of native, pure, auto"):
        choose_core()
    assert service.run() == service.EXIT_NO_CORE
    assert f"{cores.ENV}='{value}'" in caplog.text


def test_the_health_endpoint_reports_the_core() -> None:
    # Given the health server of a task on the compiled core
    server = HealthServer(
        0, lambda: {"status": "ready", "serving": True}, "127.0.0.1", details={"core": "native"}
    ).start()
    try:
        # When the health check calls, the body names the core
        url = f"http://127.0.0.1:{server.port}/health"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
    finally:
        server.stop()
    assert body == {"core": "native", "status": "ready", "serving": True}


def test_local_mode_says_which_core_and_gives_it_to_each_engine_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given local mode without a compiled core
    monkeypatch.delenv(cores.ENV, raising=False)
    _native_unavailable(monkeypatch)
    # When it chooses the engines' core, one line says which, why and the cure
    core = engines_core()
    (line,) = capsys.readouterr().out.splitlines()
    assert core == cores.PURE
    assert "engine core: pure" in line
    assert "make build-engine" in line
    # And an engine process is told the choice, whatever the shell said
    env = engine_env({"PATH": "/bin", cores.ENV: "native"}, {"EXCHANGE_SHARD_ID": "s1"}, core)
    assert env[cores.ENV] == cores.PURE


def test_local_mode_stops_with_the_reason_when_the_compiled_core_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(cores.ENV, cores.NATIVE)
    _native_unavailable(monkeypatch)
    with pytest.raises(ServiceError, match="make build-engine"):
        engines_core()


def test_the_core_is_compiled_optimised_and_portable_across_x86_hosts() -> None:
    # The image is built on one machine and runs on c5.2xlarge hosts: no -march=native
    assert "-O3" in build.CFLAGS
    assert not [flag for flag in build.CFLAGS if flag.startswith("-march") and "native" in flag]
