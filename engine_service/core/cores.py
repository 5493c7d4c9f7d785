"""Which matching core runs: the compiled one (``_ccore``, C via Cython) or the pure-Python one.

Both implement the same classes (``Order``, ``BookSide``, ``StopBook``, ``RecentIds`` and
``SymbolBook``) with the same attributes and methods, so ``engine``, ``operator``, ``snapshot``
and ``replay`` run unchanged over either; the pure core is the executable reference, and the two
must give byte-identical events and snapshots (``tests/unit/engine`` runs against both).

The choice, per ``Engine`` (``core=``) or by default from ``EXCHANGE_ENGINE_CORE``:

* ``native``: the compiled core, or an error saying why it cannot load (the engine image sets
  it: the service refuses to start on the pure core);
* ``pure``: the pure-Python core;
* ``auto`` (the default): native when it loads, else pure, with one warning that says why
  (local mode on a machine that has not run ``make build-engine``).
"""

import importlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from engine_service.core.book import Order
    from engine_service.core.matcher import SymbolBook
    from engine_service.core.recent import RecentIds

NATIVE: Final = "native"
PURE: Final = "pure"
AUTO: Final = "auto"
CHOICES: Final = (NATIVE, PURE, AUTO)
ENV: Final = "EXCHANGE_ENGINE_CORE"
NATIVE_MODULE: Final = "engine_service.core._ccore"


class NativeCoreUnavailable(ImportError):
    """The compiled core was asked for and cannot be used; the message says why and the cure."""


@dataclass(frozen=True)
class Core:
    """One core's classes. ``name`` is ``native`` or ``pure``."""

    name: str
    # The compiled classes have the pure ones' interfaces: they are typed as the pure ones.
    order: Callable[..., "Order"]
    book_side: Any
    stop_book: Any
    recent_ids: Callable[..., "RecentIds"]
    symbol_book: Callable[..., "SymbolBook"]
    module: ModuleType | None = None  # the compiled module (its batch entry point), or None


_cache: dict[str, Core | NativeCoreUnavailable] = {}
_warned = False


def _load_pure() -> Core:
    from engine_service.core import book, matcher, recent, stops  # noqa: PLC0415 - lazy

    return Core(
        PURE, book.Order, book.BookSide, stops.StopBook, recent.RecentIds, matcher.SymbolBook
    )


def _load_native() -> Core:
    from engine_service.core.build import stale_sources  # noqa: PLC0415 - lazy

    stale = stale_sources()
    if stale:
        raise NativeCoreUnavailable(
            f"the compiled engine core is older than {', '.join(stale)}: rebuild it with "
            "`make build-engine` (python engine_service/core/build.py)"
        )
    try:
        module = importlib.import_module(NATIVE_MODULE)
    except ImportError as exc:
        raise NativeCoreUnavailable(
            f"the compiled engine core is not built ({exc}): run `make build-engine` "
            "(python engine_service/core/build.py; needs Cython and a C compiler)"
        ) from exc
    return Core(
        NATIVE,
        module.Order,
        module.BookSide,
        module.StopBook,
        module.RecentIds,
        module.SymbolBook,
        module,
    )


def load(name: str) -> Core:
    """The core called ``name`` (``native`` or ``pure``); raises ``NativeCoreUnavailable``."""
    if name not in (NATIVE, PURE):
        raise ValueError(f"engine core {name!r}: expected {NATIVE!r} or {PURE!r}")
    found = _cache.get(name)
    if found is None:
        try:
            found = _load_native() if name == NATIVE else _load_pure()
        except NativeCoreUnavailable as exc:
            found = exc
        _cache[name] = found
    if isinstance(found, NativeCoreUnavailable):
        raise found
    return found


def native_problem() -> str | None:
    """Why the compiled core cannot be used, or None when it can."""
    try:
        load(NATIVE)
    except NativeCoreUnavailable as exc:
        return str(exc)
    return None


def requested() -> str:
    """The default choice: ``EXCHANGE_ENGINE_CORE`` (``auto`` when unset)."""
    value = os.environ.get(ENV, AUTO).strip().lower() or AUTO
    if value not in CHOICES:
        raise ValueError(f"{ENV}={value!r}: expected one of {', '.join(CHOICES)}")
    return value


def resolve(choice: str | None = None) -> Core:
    """The core for ``choice`` (None: ``requested()``). ``auto`` falls back to the pure core with
    one warning when the compiled one cannot load."""
    global _warned  # noqa: PLW0603 - warn once per process
    choice = requested() if choice is None else choice
    if choice != AUTO:
        return load(choice)
    problem = native_problem()
    if problem is None:
        return load(NATIVE)
    if not _warned:
        _warned = True
        warnings.warn(
            f"matching on the pure-Python engine core (slower, same results): {problem}",
            RuntimeWarning,
            stacklevel=2,
        )
    return load(PURE)
