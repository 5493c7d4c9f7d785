"""Lambda functions, hosted in this process: the handlers from ``lambdas.catalog`` invoked with
AWS-shaped events and a Lambda context.

Each function has one execution environment here: one worker thread that runs its invocations
one at a time, as a Lambda container does. Handlers rely on that (a container's module-level
clients, such as a pika connection, serve one invocation at a time), so two invocations of one
function never overlap; different functions run side by side.

All functions share this process, but not their settings: ``configure`` gives each function's
composition root (``ROOT``) the settings its own deployed environment makes (``local.environment``),
before its first invocation (its cold start). A handler module that does not exist yet is reported
as missing, and its routes answer 502 as API Gateway does for a broken integration.
"""

import asyncio
import importlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from exchange.composition import CompositionRoot
from exchange.settings import settings_from_environment
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.catalog import FUNCTIONS, FunctionSpec
from local import recording

Handler = Callable[[dict[str, Any], Any], Any]


class FunctionMissing(LookupError):
    """The catalog names a function whose handler module is not there (yet)."""


class FunctionError(RuntimeError):
    """The handler raised: what Lambda reports as a function error. ``__cause__`` is the
    handler's exception."""

    def __init__(self, function: str, cause: BaseException) -> None:
        super().__init__(f"{function}: {type(cause).__name__}: {cause}")
        self.function = function
        self.message = str(cause)


class FunctionHost:
    """Loads handlers on first use and runs them on per-function worker threads."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec] = FUNCTIONS,
        *,
        handlers: Mapping[str, Handler] | None = None,
        timeouts: Mapping[str, int] | None = None,
    ) -> None:
        self.specs = dict(functions)
        # The deployed timeouts (the template's), else the catalog's.
        self.timeouts = {name: spec.timeout_seconds for name, spec in self.specs.items()}
        self.timeouts.update(timeouts or {})
        # Tests pass handlers of their own; the stack imports the catalog's.
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self.invocations: dict[str, int] = dict.fromkeys(self.specs, 0)
        self.errors: dict[str, int] = dict.fromkeys(self.specs, 0)
        self.busy_ms: dict[str, float] = dict.fromkeys(self.specs, 0.0)

    def available(self, name: str) -> bool:
        try:
            self.handler(name)
        except FunctionMissing:
            return False
        return True

    def handler(self, name: str) -> Handler:
        if name in self._handlers:
            return self._handlers[name]
        spec = self.specs[name]
        module_name, _, attribute = spec.handler.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise FunctionMissing(f"{spec.handler} is not there yet") from exc
            raise
        handler: Handler = getattr(module, attribute)
        self._handlers[name] = handler
        return handler

    def root(self, name: str) -> CompositionRoot[Any, Any]:
        """The function's composition root (``ROOT`` in its handler module)."""
        self.handler(name)  # FunctionMissing when the module is not there
        module = importlib.import_module(self.specs[name].handler.rpartition(".")[0])
        root: CompositionRoot[Any, Any] = module.ROOT
        return root

    def configure(self, environments: Mapping[str, Mapping[str, str]]) -> None:
        """Give each function the settings of its own environment (function -> variables);
        functions whose handler is not there yet are left out."""
        for name, environment in environments.items():
            if not self.available(name):
                continue
            self.root(name).use_settings(
                settings_from_environment(self.specs[name].settings, environment)
            )

    def _run(self, name: str, event: dict[str, Any]) -> Any:
        handler = self.handler(name)
        context = LambdaContextStub(
            function_name=name,
            timeout_seconds=self.timeouts[name],
            aws_request_id=str(uuid.uuid4()),
        )
        started = time.perf_counter()
        self.invocations[name] += 1
        principal = recording.current_principal.set(name)  # whose role makes its AWS calls
        try:
            return handler(event, context)
        except Exception as exc:  # the Lambda runtime's boundary: any error is a function error
            self.errors[name] += 1
            raise FunctionError(name, exc) from exc
        finally:
            recording.current_principal.reset(principal)
            self.busy_ms[name] += (time.perf_counter() - started) * 1000

    def _environment(self, name: str) -> ThreadPoolExecutor:
        self.handler(name)  # FunctionMissing here, before queueing
        with self._lock:
            executor = self._executors.get(name)
            if executor is None:
                executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fn-{name}")
                self._executors[name] = executor
            return executor

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        """One invocation, after the function's previous ones; blocks the calling thread.
        A handler's exception is a FunctionError."""
        return self._environment(name).submit(self._run, name, event).result()

    async def ainvoke(self, name: str, event: dict[str, Any]) -> Any:
        """``invoke``, awaited from the event loop."""
        future = self._environment(name).submit(self._run, name, event)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=True, cancel_futures=True)
        self._executors.clear()
