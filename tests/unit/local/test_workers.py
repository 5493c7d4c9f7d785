"""Functions in worker processes (``local.workers`` behind ``FunctionHost``): each worker is one
execution environment, one invocation at a time; several workers are the function's concurrency,
as Lambda's scaling gives ("Each execution environment processes one request at a time",
https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html)."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import wait

import pytest

from local.functions import FunctionError, FunctionHost
from tests.unit.local.worker_handlers import spec


@pytest.fixture
def host() -> Iterator[FunctionHost]:
    functions = {"echo": spec("echo", "echo"), "slow": spec("slow", "slow")}
    host = FunctionHost(functions, processes={"echo": 1, "slow": 2})
    try:
        yield host
    finally:
        host.close()


def test_an_invocation_runs_in_a_worker_process(host: FunctionHost) -> None:
    answer = host.invoke("echo", {"hello": "world"})
    assert answer["pid"] != os.getpid()
    assert answer["event"] == {"hello": "world"}
    assert answer["function"] == "echo"
    # The same execution environment serves the next invocation (a warm start).
    assert host.invoke("echo", {})["pid"] == answer["pid"]
    assert host.invocations["echo"] == 2
    assert host.busy_ms["echo"] > 0


def test_a_handlers_exception_is_a_function_error_with_its_message(host: FunctionHost) -> None:
    with pytest.raises(FunctionError, match="ValueError: Unauthorized") as raised:
        host.invoke("echo", {"fail": "Unauthorized"})
    assert raised.value.message == "Unauthorized"  # what the gateway's authorizers compare
    assert host.errors["echo"] == 1


def test_a_worker_that_dies_fails_its_invocation_and_the_next_one_starts_afresh(
    host: FunctionHost,
) -> None:
    first = host.invoke("echo", {})["pid"]
    with pytest.raises(FunctionError, match=r"Runtime\.ExitError"):
        host.invoke("echo", {"exit": True})
    assert host.invoke("echo", {})["pid"] not in (first, os.getpid())


def test_workers_are_the_functions_concurrency(host: FunctionHost) -> None:
    async def both() -> list[int]:
        return list(
            await asyncio.gather(
                host.ainvoke("slow", {"seconds": 0.2}), host.ainvoke("slow", {"seconds": 0.2})
            )
        )

    asyncio.run(both())  # cold starts, outside the timing
    started = time.perf_counter()
    pids = asyncio.run(both())
    elapsed = time.perf_counter() - started
    assert len(set(pids)) == 2  # two execution environments ...
    assert elapsed < 0.38  # ... side by side, not one after the other (0.4 s)


def test_one_worker_runs_one_invocation_at_a_time() -> None:
    host = FunctionHost({"slow": spec("slow", "slow")}, processes={"slow": 1})
    try:
        host.invoke("slow", {"seconds": 0})  # cold start
        started = time.perf_counter()

        async def both() -> list[int]:
            return list(
                await asyncio.gather(
                    host.ainvoke("slow", {"seconds": 0.2}),
                    host.ainvoke("slow", {"seconds": 0.2}),
                )
            )

        pids = asyncio.run(both())
        assert len(set(pids)) == 1
        assert time.perf_counter() - started >= 0.4
    finally:
        host.close()


def test_a_worker_killed_while_idle_does_not_break_its_function(host: FunctionHost) -> None:
    first = host.invoke("echo", {})["pid"]
    os.kill(first, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices its worker is gone
    assert host.invoke("echo", {})["pid"] not in (first, os.getpid())


def test_close_answers_every_invocation_still_queued() -> None:
    host = FunctionHost({"slow": spec("slow", "slow")}, processes={"slow": 1})
    host.invoke("slow", {"seconds": 0})
    queued = [host._submit("slow", {"seconds": 0.3}) for _ in range(4)]
    host.close()
    wait(queued, timeout=5)
    assert all(future.done() for future in queued)
    assert any(isinstance(future.exception(), FunctionError) for future in queued)


def test_a_caller_that_gave_up_leaves_no_error_behind(host: FunctionHost) -> None:
    async def impatient() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(host.ainvoke("slow", {"seconds": 0.3}), 0.05)

    asyncio.run(impatient())
    # The worker finishes later; its answer finds the caller's future cancelled, quietly.
    assert host.invoke("slow", {"seconds": 0}) != os.getpid()
