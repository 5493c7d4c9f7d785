"""Every engine test runs against both matching cores: the pure-Python one (the executable
reference) and the compiled one (``engine_service.core._ccore``).

The autouse ``engine_core`` fixture sets ``EXCHANGE_ENGINE_CORE``, which each ``Engine`` reads
when it is built, so a test written for one core runs unchanged on both (``test_x[pure]`` and
``test_x[native]``). A module can narrow the cores its tests run on with a module-level
``ENGINE_CORES`` tuple. Off CI a missing compiled core skips its tests with the reason and the
cure; with ``CI=true`` it fails them, so a green CI always means the compiled core was tested.
"""

import os

import pytest

from engine_service.core import cores

ALL_CORES = (cores.PURE, cores.NATIVE)
# Tests of the pure core's own data structures, which the compiled core need not mirror.
PURE_ONLY = frozenset({"test_a_level_compacts_its_queue_once_dead_entries_outnumber_live_ones"})


def require_core(name: str) -> cores.Core:
    """The core ``name``; skips the test when it cannot load (fails it when ``CI=true``)."""
    try:
        return cores.load(name)
    except cores.NativeCoreUnavailable as exc:
        message = f"the {name} engine core is unavailable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI requires it", pytrace=False)
        pytest.skip(message)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_core" not in metafunc.fixturenames:
        return
    names = getattr(metafunc.module, "ENGINE_CORES", ALL_CORES)
    if metafunc.function.__name__ in PURE_ONLY:
        names = (cores.PURE,)
    metafunc.parametrize("engine_core", names, indirect=True)


@pytest.fixture(autouse=True)
def engine_core(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The core this run of the test is on; every ``Engine`` built without ``core=`` uses it."""
    name: str = request.param
    require_core(name)
    monkeypatch.setenv(cores.ENV, name)
    return name
