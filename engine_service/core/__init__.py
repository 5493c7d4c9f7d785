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

The hot modules compile with mypyc (``python engine_service/core/build.py``, git-ignored ``.so``
files next to the sources). Without them the same ``.py`` files run as plain Python.
"""

from engine_service.core.build import stale_sources

if stale := stale_sources():
    raise ImportError(
        f"the compiled engine core is older than {', '.join(stale)}: rebuild it with "
        "`python engine_service/core/build.py` (or remove it with `--clean`)"
    )

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
    "OrderView",
    "ReplayError",
]
