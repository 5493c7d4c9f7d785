"""The matching engine in the local stack, one per shard, supervised like an ECS service: a task
that dies is started again, and it recovers from its snapshot plus the journal.

- With RabbitMQ: ``python -m engine_service run`` as a child process (the ECS task's command),
  configured by environment, logging to ``engine-<shard>.log``. ``crash`` is ``kill -9``.
- With the in-process broker: the ECS task's object graph (``engine_service.composition``, from
  ``EngineSettings``) on a thread of this process, reading ``InMemoryIntake``. ``crash`` abandons
  the runtime without flushing (unacknowledged commands go back to the queue, unjournaled events
  are lost) and a new one recovers, as after a kill.

Every engine runs the matching core ``engines_core`` chose once, at start, and printed: the
compiled one when it is built, else the pure-Python one, with why and the cure.
"""

import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from engine_service.adapters.memory import InMemoryBroker, InMemoryIntake
from engine_service.composition import build_runtime, choose_core
from engine_service.core import NativeCoreUnavailable, cores
from engine_service.runtime import EngineRuntime
from exchange.observability import logger
from exchange.settings import EngineSettings, settings_from_environment
from local import recording
from local.services import ServiceError

# Locally the REST book view (published with each snapshot) should stay fresh.
SNAPSHOT_EVERY_SECONDS: Final = 1


class EngineTask(Protocol):
    shard: str
    restarts: int

    def start(self) -> None: ...
    def wait_ready(self, timeout_s: float) -> None: ...
    def crash(self) -> None: ...
    def stop(self) -> None: ...
    def status(self) -> dict[str, Any]: ...


class EngineProcess:
    """``python -m engine_service run`` for one shard, restarted when it dies."""

    def __init__(
        self, shard: str, env: Mapping[str, str], *, log_path: Path, health_port: int
    ) -> None:
        self.shard = shard
        self._env = dict(env)
        self._log_path = log_path
        self._health_port = health_port
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name=f"engine-{self.shard}", daemon=True
        )
        self._watcher.start()

    def _spawn(self) -> None:
        with self._lock, self._log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our interpreter, our modules
                recording.command(["-m", "engine_service", "run"], principal="engine"),
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                logger.warning(
                    "engine exited; restarting",
                    extra={"shard": self.shard, "returncode": process.returncode},
                )
                self.restarts += 1
                time.sleep(0.2)
                if not self._stopping.is_set():
                    self._spawn()
            self._stopping.wait(0.1)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self._health_port}/health"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(
            f"engine {self.shard} not ready after {timeout_s} s; see {self._log_path}"
        )

    def crash(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(2)

    def status(self) -> dict[str, Any]:
        return {
            "mode": "process",
            "core": self._env.get(cores.ENV),
            "pid": self.pid,
            "restarts": self.restarts,
            "log": str(self._log_path),
        }


class EngineThread:
    """The engine runtime on a thread, fed by the in-process broker: the ECS task's graph
    (``engine_service.composition.build_runtime``) with the broker's intake in place of
    RabbitMQ's."""

    def __init__(self, settings: EngineSettings, *, broker: InMemoryBroker) -> None:
        self.shard = settings.shard_id
        self._settings = settings
        self._broker = broker
        self._stop = threading.Event()
        self._crash = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.runtime: EngineRuntime | None = None
        self.restarts = 0

    def _build(self, intake: InMemoryIntake) -> EngineRuntime:
        return build_runtime(self._settings, intake=intake)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"engine-{self.shard}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        recording.current_principal.set("engine")  # this thread is the engine task
        while not self._stop.is_set():
            intake = self._broker.intake(self.shard)
            runtime = self._build(intake)
            self.runtime = runtime
            runtime.recover()
            runtime.connect()
            self._ready.set()
            while not self._stop.is_set() and not self._crash.is_set():
                runtime.step()
            if self._crash.is_set():
                # A kill: no flush, no ack, no snapshot; the journal write in flight ends before
                # the successor reads the journal. Unacked deliveries go back in front.
                runtime.abandon()
                self._crash.clear()
                self.restarts += 1
                continue
            runtime.shutdown()

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"engine {self.shard} not ready after {timeout_s} s")

    def crash(self) -> None:
        self._ready.clear()
        self._crash.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(20)

    def status(self) -> dict[str, Any]:
        runtime = self.runtime
        health = runtime.health() if runtime else {}
        return {
            "mode": "thread",
            "core": runtime.engine.core if runtime else None,
            "restarts": self.restarts,
            "status": health.get("status"),
        }


# Local tuning on top of the deployed task's environment: a snapshot every second, so a killed
# engine recovers from a recent one in the crash drills, and metrics once a minute.
LOCAL_ENGINE_TUNING: Final[Mapping[str, str]] = {
    "EXCHANGE_SNAPSHOT_EVERY_SECONDS": str(SNAPSHOT_EVERY_SECONDS),
    "EXCHANGE_METRICS_INTERVAL_SECONDS": "60",
}


def engines_core() -> str:
    """The matching core of every local engine: ``EXCHANGE_ENGINE_CORE`` of this process (``auto``
    when unset: the compiled core where ``make build-engine`` built it, else the pure-Python one),
    chosen once and said in one printed line; on the fallback the line says why and the cure.
    An engine thread reads the same variable; ``engine_env`` gives a process the choice."""
    try:
        choice = choose_core()
    except (NativeCoreUnavailable, ValueError) as exc:  # native required, or a misspelled value
        raise ServiceError(str(exc)) from exc
    print(f"  {choice.describe()}", flush=True)
    return choice.core.name


def engine_settings(task_environment: Mapping[str, str]) -> EngineSettings:
    """An engine thread's settings: the task's environment (``local.environment``) and the
    local tuning."""
    return settings_from_environment(EngineSettings, {**task_environment, **LOCAL_ENGINE_TUNING})


def engine_env(
    base: Mapping[str, str], task_environment: Mapping[str, str], core: str
) -> dict[str, str]:
    """An engine process's environment: the process's own (``PATH`` and the like, none of the
    exchange's), the task's environment, the local tuning and the ``core`` ``engines_core``
    chose."""
    return {
        **{key: value for key, value in base.items() if not key.startswith("EXCHANGE_")},
        **task_environment,
        **LOCAL_ENGINE_TUNING,
        cores.ENV: core,
    }


def kill_all(tasks: Sequence[EngineTask]) -> None:
    """Stop every task; used on shutdown, including after an error during start-up."""
    for task in tasks:
        try:
            task.stop()
        except OSError as exc:
            logger.warning("engine stop failed", extra={"shard": task.shard, "error": repr(exc)})
