"""The pure matching core: books, matcher and the multi-symbol engine. No I/O, no clock.

``Engine.apply(command) -> list[Event]`` is the whole interface for trading; ``snapshot`` /
``restore`` / ``replay`` rebuild state, ``l2`` / ``l3`` give market-data views. Where to look:

* ``book``: orders, price levels and book sides (the data structures);
* ``symbol`` and ``matcher``: one symbol's state, command handlers, matching, and the order of
  events within one command;
* ``rules``: checks of a command's own fields; ``stops``: held stop orders; ``recent``: the
  bounded dedupe windows; ``operator``: operators' commands (status, mass cancel, freeze,
  listing);
* ``engine``: routing to symbols, snapshots; ``replay``: rebuilding from journaled events;
  ``state``: snapshot and view shapes.

Two cores implement it: these ``.py`` modules (the pure-Python reference) and ``_ccore.pyx``, the
same classes compiled to C with Cython (``make build-engine``; a git-ignored ``.so``), which also
routes and batches commands in C. ``cores`` chooses between them (``EXCHANGE_ENGINE_CORE``); both
give byte-identical events and snapshots.
"""

from engine_service.core.cores import NativeCoreUnavailable, native_problem
from engine_service.core.engine import DEFAULT_DEDUPE_WINDOW, Engine
from engine_service.core.replay import ReplayError
from engine_service.core.state import (
    L2View,
    L3Level,
    L3View,
    LevelView,
    OrderView,
)

__all__ = [
    "DEFAULT_DEDUPE_WINDOW",
    "Engine",
    "L2View",
    "L3Level",
    "L3View",
    "LevelView",
    "NativeCoreUnavailable",
    "OrderView",
    "ReplayError",
    "native_problem",
]
