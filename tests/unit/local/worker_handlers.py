"""Handlers for ``test_workers``: imported by the worker processes by name."""

import os
import time
from dataclasses import dataclass
from typing import Any

from pydantic_settings import BaseSettings

from lambdas.kinds import FunctionSpec, Trigger


@dataclass(frozen=True, slots=True)
class TestFunction(FunctionSpec):
    """A function whose handler is ``tests.unit.local.worker_handlers.<entry>``."""

    entry: str = "echo"

    @property
    def handler(self) -> str:
        return f"{__name__}.{self.entry}"


def spec(name: str, entry: str) -> TestFunction:
    return TestFunction(name, "a test function", Trigger.REST, BaseSettings, entry=entry)


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("fail"):
        raise ValueError(event["fail"])
    if event.get("exit"):
        os._exit(3)  # the runtime dies mid-invocation
    return {"pid": os.getpid(), "event": event, "function": context.function_name}


def slow(event: dict[str, Any], context: Any) -> int:
    time.sleep(float(event["seconds"]))
    return os.getpid()
