"""Start ``python -m local`` as a child process and wait until it is up: what the e2e tests and
``make bench-e2e`` do, the way a user starts the stack.

    with running_stack(Path("/tmp/stack.json"), log) as state:
        print(state["api_url"])
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]


class StackFailed(RuntimeError):
    """The stack did not start, or did not stop cleanly."""


@contextlib.contextmanager
def running_stack(
    state_file: Path,
    log: Path,
    *,
    args: tuple[str, ...] = ("--no-seed",),
    env: Mapping[str, str] | None = None,
    start_timeout_s: float = 120.0,
) -> Iterator[dict[str, Any]]:
    """Yields the stack's state; on exit sends Ctrl-C (SIGINT) and checks it stopped cleanly."""
    environment = dict(os.environ if env is None else env)
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "local", "--port", "0", "--state-file", str(state_file), *args],
            cwd=ROOT,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + start_timeout_s
        while not state_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise StackFailed(f"the local stack did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        yield json.loads(state_file.read_text())
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise StackFailed(f"the stack exited with {process.returncode}:\n{log.read_text()[-4000:]}")
    if state_file.exists():
        raise StackFailed("the stack left its state file behind")
