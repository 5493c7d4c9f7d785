"""Lambda execution environments as worker processes: what ``FunctionHost`` runs a busy function
in, so the functions use the machine's other cores instead of sharing the stack's GIL with moto,
the gateway and the pollers.

Each worker is one execution environment: a process that imports the function's handler once
(its cold start), takes the settings of the function's own environment, and runs one invocation
at a time, as Lambda does. Several workers of one function are its concurrency. Events and
results cross the process boundary as Lambda's do: JSON-shaped values.

A worker ignores Ctrl-C (the stack stops it when it stops), records its AWS calls as its function
when the stack records them (``local.recording``), and reports a handler's exception as a
function error, by message, as Lambda's runtime does.
"""

import importlib
import os
import signal
import time
import uuid
from collections.abc import Mapping
from typing import Any

from exchange.settings import settings_from_environment
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.kinds import FunctionSpec
from local import recording

# This worker's function: (spec, handler, timeout); set by ``start``.
_function: tuple[FunctionSpec, Any, int] | None = None


def start(
    spec: FunctionSpec, environment: Mapping[str, str], process_environment: Mapping[str, str],
    timeout_seconds: int,
) -> None:  # fmt: skip
    """The worker's initializer: its environment, its call recording, its cold start."""
    global _function  # noqa: PLW0603 - one function per worker process
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(process_environment)
    recording.install_from_environment(spec.name)
    module_name, _, attribute = spec.handler.rpartition(".")
    module = importlib.import_module(module_name)
    root = getattr(module, "ROOT", None)
    if root is not None and environment:
        root.use_settings(settings_from_environment(spec.settings, environment))
    _function = (spec, getattr(module, attribute), timeout_seconds)


def invoke(event: dict[str, Any]) -> tuple[bool, Any, float]:
    """One invocation: (True, result, busy ms), or (False, (the error's type, its message),
    busy ms)."""
    if _function is None:
        raise RuntimeError("the worker was not started")
    spec, handler, timeout_seconds = _function
    context = LambdaContextStub(
        function_name=spec.name, timeout_seconds=timeout_seconds, aws_request_id=str(uuid.uuid4())
    )
    started = time.perf_counter()
    try:
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 - the Lambda runtime's boundary: a function error
        return False, (type(exc).__name__, str(exc)), (time.perf_counter() - started) * 1000
    return True, result, (time.perf_counter() - started) * 1000
