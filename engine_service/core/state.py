"""The engine's state shapes (snapshots, L2/L3 views), defined in the shared layer
(``exchange.domain.engine_state``) so tools outside the engine decode snapshots with them."""

from exchange.domain.engine_state import (
    READABLE_VERSIONS,
    SNAPSHOT_VERSION,
    BookState,
    EngineState,
    L2View,
    L3Level,
    L3View,
    LevelView,
    OrderState,
    OrderView,
)

__all__ = [
    "READABLE_VERSIONS",
    "SNAPSHOT_VERSION",
    "BookState",
    "EngineState",
    "L2View",
    "L3Level",
    "L3View",
    "LevelView",
    "OrderState",
    "OrderView",
]
