"""Lambda functions, hosted in this process: the handlers from ``lambdas.catalog`` invoked with
AWS-shaped events and a Lambda context.

Each function has one execution environment here: one worker thread that runs its invocations
one at a time, as a Lambda container does. Handlers rely on that (a container's module-level
clients, such as a pika connection, serve one invocation at a time), so two invocations of one
function never overlap; different functions run side by side.

A function named in ``processes`` runs in worker processes instead (``local.workers``): that many
execution environments, each one invocation at a time, as Lambda's concurrency gives a busy
function, on the machine's other cores. Its handler runs in the worker, not here: only a
function that reaches everything over the network (not the in-process broker) can.

All functions share this process, but not their settings: ``configure`` gives each function's
composition root (``ROOT``) the settings its own deployed environment makes (``local.environment``),
before its first invocation (its cold start). A handler module that does not exist yet is reported
as missing, and its routes answer 502 as API Gateway does for a broken integration.
"""

import asyncio
import contextlib
import importlib
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import (
    Executor,
    Future,
    InvalidStateError,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from exchange.composition import CompositionRoot
from exchange.settings import settings_from_environment
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.catalog import FUNCTIONS, FunctionSpec
from local import recording, workers

Handler = Callable[[dict[str, Any], Any], Any]


class FunctionMissing(LookupError):
    """The catalog names a function whose handler module is not there (yet)."""


class FunctionError(RuntimeError):
    """The handler raised: what Lambda reports as a function error. ``__cause__`` is the
    handler's exception (a worker process's handler: its type and message only)."""

    def __init__(self, function: str, cause: BaseException) -> None:
        kind = cause.kind if isinstance(cause, WorkerFailed) else type(cause).__name__
        super().__init__(f"{function}: {kind}: {cause}")
        self.function = function
        self.message = str(cause)


class WorkerFailed(RuntimeError):
    """What a worker process's handler raised, by type name and message, or its runtime
    exiting (``BrokenProcessPool``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    def __str__(self) -> str:
        return str(self.args[0])


class FunctionHost:
    """Loads handlers on first use and runs them on per-function worker threads."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec] = FUNCTIONS,
        *,
        handlers: Mapping[str, Handler] | None = None,
        timeouts: Mapping[str, int] | None = None,
        processes: Mapping[str, int] | None = None,
    ) -> None:
        self.specs = dict(functions)
        # The deployed timeouts (the template's), else the catalog's.
        self.timeouts = {name: spec.timeout_seconds for name, spec in self.specs.items()}
        self.timeouts.update(timeouts or {})
        # Tests pass handlers of their own; the stack imports the catalog's.
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._executors: dict[str, Executor] = {}
        # Functions run in worker processes: how many each (``local.workers``).
        self.processes = {name: n for name, n in (processes or {}).items() if n > 0}
        self._environments: dict[str, dict[str, str]] = {}
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
            self._environments[name] = dict(environment)
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

    def _environment(self, name: str) -> Executor:
        self.handler(name)  # FunctionMissing here, before queueing
        with self._lock:
            executor = self._executors.get(name)
            if executor is None:
                executor = self._executors[name] = self._new_executor(name)
            return executor

    def _new_executor(self, name: str) -> Executor:
        if name not in self.processes:
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fn-{name}")
        # forkserver: each worker starts from a clean process, not a fork of this threaded one.
        return ProcessPoolExecutor(
            max_workers=self.processes[name],
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=workers.start,
            initargs=(
                self.specs[name],
                self._environments.get(name, {}),
                dict(os.environ),
                self.timeouts[name],
            ),
        )

    def _submit(self, name: str, event: dict[str, Any]) -> Future[Any]:
        executor = self._environment(name)
        if not isinstance(executor, ProcessPoolExecutor):
            return executor.submit(self._run, name, event)
        with self._lock:
            self.invocations[name] += 1
        answer: Future[Any] = Future()
        try:
            work = executor.submit(workers.invoke, event)
        except BrokenProcessPool:  # a worker died while idle: start afresh, once
            self._forget(name, executor)
            executor = self._environment(name)
            work = executor.submit(workers.invoke, event)
        work.add_done_callback(lambda future: self._answer(name, executor, future, answer))
        return answer

    def _forget(self, name: str, executor: Executor) -> None:
        """Drop a broken pool: the next invocation starts new workers."""
        with self._lock:
            if self._executors.get(name) is executor:
                del self._executors[name]

    def _answer(
        self,
        name: str,
        executor: Executor,
        future: Future[tuple[bool, Any, float]],
        answer: Future[Any],
    ) -> None:
        """A worker's outcome onto the caller's future; never raises (a done callback)."""
        busy_ms = 0.0
        try:
            ok, value, busy_ms = future.result()
        except BrokenProcessPool as exc:  # the worker died mid-invocation: "Runtime exited"
            self._forget(name, executor)
            ok, value = False, ("Runtime.ExitError", str(exc))
        except BaseException as exc:  # noqa: BLE001 - cancelled at close, or anything else
            ok, value = False, (type(exc).__name__, str(exc))
        with self._lock:
            self.busy_ms[name] += busy_ms
            if not ok:
                self.errors[name] += 1
        # The caller may have given up already (a gateway timeout cancels its future).
        with contextlib.suppress(InvalidStateError):
            if ok:
                answer.set_result(value)
                return
            kind, message = value
            cause = WorkerFailed(kind, message)
            error = FunctionError(name, cause)
            error.__cause__ = cause
            answer.set_exception(error)

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        """One invocation, after the function's previous ones; blocks the calling thread.
        A handler's exception is a FunctionError."""
        return self._submit(name, event).result()

    async def ainvoke(self, name: str, event: dict[str, Any]) -> Any:
        """``invoke``, awaited from the event loop."""
        return await asyncio.wrap_future(self._submit(name, event))

    def close(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=True, cancel_futures=True)
        self._executors.clear()
