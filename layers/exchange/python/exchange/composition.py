"""The composition root of a deployable: its object graph, built once per process from its
settings, with the adapters that tests and local mode swap.

Every Lambda function declares one in its ``handler.py`` (``ROOT``), the engine task in
``engine_service.runtime``. Lambda builds the graph at the first invocation (the cold start) and
keeps it for the container's life. Local mode and tests call ``override`` before that, so they
run exactly the builder Lambda runs with only the named adapters replaced.

>>> from exchange.settings import ObservabilitySettings
>>> root = CompositionRoot(ObservabilitySettings, lambda settings, greeting="hello": greeting)
>>> root()
'hello'
>>> root.override(greeting="hi"); root()
'hi'
"""

import threading
from collections.abc import Callable
from typing import Any

from pydantic_settings import BaseSettings

from exchange.settings import load_settings


class CompositionRoot[S: BaseSettings, T]:
    def __init__(self, settings: type[S], build: Callable[..., T]) -> None:
        self._model = settings
        self._build = build
        self._overrides: dict[str, Any] = {}
        self._settings: S | None = None
        self._built: T | None = None
        self._lock = threading.Lock()

    def settings(self) -> S:
        """The deployable's settings: read from the environment once per process, unless
        ``use_settings`` gave them."""
        if self._settings is not None:
            return self._settings
        settings: S = load_settings(self._model)
        return settings

    def use_settings(self, settings: S) -> None:
        """Build from ``settings`` instead of the process environment (local mode, where many
        functions share one process, gives each its own environment this way)."""
        with self._lock:
            self._settings = settings
            self._built = None

    def __call__(self) -> T:
        """The object graph, built on first use (``build(settings, **overrides)``)."""
        built = self._built
        if built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build(self.settings(), **self._overrides)
                built = self._built
        return built

    def override(self, **adapters: Any) -> None:
        """Swap adapters (keyword arguments of the builder); the graph is built anew on next use."""
        with self._lock:
            self._overrides.update(adapters)
            self._built = None

    def reset(self) -> None:
        """Forget the overrides and the built graph (tests)."""
        with self._lock:
            self._overrides.clear()
            self._settings = None
            self._built = None
