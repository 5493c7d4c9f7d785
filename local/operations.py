"""The triggers of the operations functions, locally: EventBridge's schedules (the reconciler,
the reconciliation, the dividends: every rule the template deploys) and Amazon MQ's event source
mapping on each shard's dead-letter queue for ``dead_letters``. Both invoke the functions' own
handlers (through the ``FunctionHost``, so through their composition roots) with the events AWS
sends (``exchange.testing.lambda_events``).

- ``Schedule``: a scheduled event every ``every_s``: the deployed rule's rate, unless the stack
  is told otherwise (``schedule_periods``: the e2e tests and ``--schedule`` run some faster);
  the first one as soon as the stack is up.
- ``RabbitDeadLetters``: a pika consumer on every shard's ``engine.<shard>.dlq``. A batch is
  acknowledged when the function returns, and returned to its queue when it fails (retried after
  a pause), as the mapping does.
- ``InProcessDeadLetters``: the same over the in-process broker's dead-lettered bodies.
"""

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from exchange import messaging
from exchange.observability import logger
from exchange.testing.lambda_events import rabbitmq_event, rabbitmq_message, scheduled_event
from local.broker import InMemoryBroker
from local.functions import FunctionError, FunctionMissing
from local.template_events import DeployedSchedule

Invoke = Callable[[dict[str, Any]], Any]
BATCH_SIZE = 10  # the AWS mapping's (stacks.constructs.functions.MQ_BATCH_SIZE)
RETRY_AFTER_S = 2.0


class _Loop:
    """A daemon thread running ``tick`` until stopped; ``tick`` returns how long to wait."""

    name = "loop"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.invocations = 0
        self.errors = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.tick())

    def tick(self) -> float:
        raise NotImplementedError

    def inject(self, shard: str, body: bytes) -> None:
        """Put ``body`` in the shard's dead-letter queue, as if the broker had (tests, drills)."""
        raise NotImplementedError

    def _invoke(self, invoke: Invoke, event: dict[str, Any]) -> Any:
        """The function's answer, or None after a function error (logged and counted)."""
        self.invocations += 1
        try:
            return invoke(event)
        except (FunctionError, FunctionMissing) as exc:
            self.errors += 1
            self.last_error = str(exc)
            logger.warning(
                "local trigger: invocation failed", extra={"loop": self.name, "error": str(exc)}
            )
            return None

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def status(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "errors": self.errors,
            "last_error": self.last_error,
        }


class Schedule(_Loop):
    """EventBridge's rule: the function gets a scheduled event every ``every_s``."""

    def __init__(self, invoke: Invoke, *, rule: str, every_s: float) -> None:
        super().__init__()
        self.name = f"schedule-{rule}"
        self._invoke_fn = invoke
        self._rule = rule
        self._every_s = every_s
        self.last_result: Any = None

    def tick(self) -> float:
        result = self._invoke(self._invoke_fn, scheduled_event(self._rule))
        if result is not None:
            self.last_result = result
        return self._every_s

    def status(self) -> dict[str, Any]:
        return {**super().status(), "every_s": self._every_s, "last_result": self.last_result}


class RabbitDeadLetters(_Loop):
    """Amazon MQ's event source mapping on each shard's dead-letter queue, with pika."""

    name = "esm-dead-letters"

    def __init__(
        self, invoke: Invoke, *, url: str, shards: Sequence[str], idle_s: float = 1.0
    ) -> None:
        super().__init__()
        self._invoke_fn = invoke
        self._url = url
        self._shards = list(shards)
        self._idle_s = idle_s
        self._connection: Any = None
        self._open_channel: Any = None
        self.messages = 0

    def _channel(self) -> Any:
        import pika  # noqa: PLC0415 - only with a real RabbitMQ

        if self._connection is None or not self._connection.is_open:
            self._connection = pika.BlockingConnection(pika.URLParameters(self._url))
            channel = self._connection.channel()
            for shard in self._shards:
                messaging.declare(channel, shard)  # the engine may not have declared them yet
            self._open_channel = channel
        return self._open_channel

    def tick(self) -> float:
        from pika.exceptions import AMQPError  # noqa: PLC0415

        try:
            channel = self._channel()
            busy = False
            for shard in self._shards:
                busy |= self._drain(channel, messaging.dead_letter_queue(shard))
        except AMQPError as exc:
            self._connection = None
            self.last_error = repr(exc)
            return RETRY_AFTER_S
        return 0.0 if busy else self._idle_s

    def _drain(self, channel: Any, queue: str) -> bool:
        """One batch from ``queue``: acknowledged if the function took it, else returned."""
        taken: list[tuple[int, dict[str, Any]]] = []
        while len(taken) < BATCH_SIZE:
            method, properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            headers = {
                name: value.decode() if isinstance(value, bytes) else value
                for name, value in (properties.headers or {}).items()
                if isinstance(value, str | bytes | int)
            }
            message = rabbitmq_message(body, headers=headers, redelivered=method.redelivered)
            taken.append((method.delivery_tag, message))
        if not taken:
            return False
        event = rabbitmq_event({queue: [message for _, message in taken]})
        last_tag = taken[-1][0]
        if self._invoke(self._invoke_fn, event) is None:
            channel.basic_nack(last_tag, multiple=True, requeue=True)
            self._stop.wait(RETRY_AFTER_S)
            return False
        channel.basic_ack(last_tag, multiple=True)
        self.messages += len(taken)
        return True

    def inject(self, shard: str, body: bytes) -> None:
        import pika  # noqa: PLC0415

        connection = pika.BlockingConnection(pika.URLParameters(self._url))
        try:
            properties = pika.BasicProperties(headers={"x-first-death-reason": "injected"})
            connection.channel().basic_publish(
                messaging.DEAD_LETTER_EXCHANGE, shard, body, properties=properties
            )
        finally:
            connection.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        super().stop(timeout_s)
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    def status(self) -> dict[str, Any]:
        return {**super().status(), "messages": self.messages}


class InProcessDeadLetters(_Loop):
    """The same mapping over the in-process broker, which keeps dead-lettered bodies per shard."""

    name = "esm-dead-letters"

    def __init__(self, invoke: Invoke, *, broker: InMemoryBroker, idle_s: float = 0.5) -> None:
        super().__init__()
        self._invoke_fn = invoke
        self._broker = broker
        self._idle_s = idle_s
        self._done: dict[str, int] = {}  # per shard: how many were handled
        self.messages = 0

    def tick(self) -> float:
        for shard, bodies in list(self._broker.dead_letters.items()):
            start = self._done.get(shard, 0)
            batch = list(bodies[start : start + BATCH_SIZE])
            if not batch:
                continue
            queue = messaging.dead_letter_queue(shard)
            messages = [rabbitmq_message(body, headers={"x-first-death-reason": "rejected"})
                        for body in batch]  # fmt: skip
            if self._invoke(self._invoke_fn, rabbitmq_event({queue: messages})) is None:
                return RETRY_AFTER_S
            self._done[shard] = start + len(batch)
            self.messages += len(batch)
            return 0.0
        return self._idle_s

    def inject(self, shard: str, body: bytes) -> None:
        self._broker.dead_letters.setdefault(shard, []).append(body)

    def status(self) -> dict[str, Any]:
        return {**super().status(), "messages": self.messages}


class Operations:
    """The schedules (function -> its rule's stand-in) and the dead-letter mapping, started and
    stopped together."""

    def __init__(self, schedules: Mapping[str, Schedule], dead_letters: _Loop) -> None:
        self.schedules = dict(schedules)
        self.dead_letters = dead_letters

    def start(self) -> None:
        for schedule in self.schedules.values():
            schedule.start()
        self.dead_letters.start()

    def stop(self) -> None:
        self.dead_letters.stop()
        for schedule in self.schedules.values():
            schedule.stop()

    def status(self) -> dict[str, Any]:
        return {
            **{name: schedule.status() for name, schedule in self.schedules.items()},
            "dead_letters": self.dead_letters.status(),
        }


def schedule_periods(
    deployed: Sequence[DeployedSchedule], overrides: Mapping[str, float]
) -> dict[str, float]:
    """Function -> seconds between its scheduled events: each enabled rule's rate as deployed,
    or the override given for it. An override for a function no enabled rule invokes is a
    mistake (a typo, or a rule the deployment no longer has): ValueError.

    >>> rule = DeployedSchedule("reconciliation", every_s=900.0, enabled=True)
    >>> schedule_periods([rule], {}), schedule_periods([rule], {"reconciliation": 5})
    ({'reconciliation': 900.0}, {'reconciliation': 5})
    """
    periods = {rule.function: rule.every_s for rule in deployed if rule.enabled}
    unknown = sorted(set(overrides) - set(periods))
    if unknown:
        raise ValueError(f"no enabled schedule in the deployment for {unknown}")
    slow = sorted(name for name, every_s in overrides.items() if every_s <= 0)
    if slow:
        raise ValueError(f"a schedule's period must be positive: {slow}")
    return {**periods, **overrides}


def operations_for(
    invoke: Callable[[str, dict[str, Any]], Any],
    *,
    broker_url: str | None,
    in_process: InMemoryBroker,
    shards: Sequence[str],
    schedules: Mapping[str, float],
) -> Operations:
    """A ``Schedule`` per scheduled function (``schedules``: function -> seconds) and the
    dead-letter mapping, on RabbitMQ (``broker_url``) or on the in-process broker (None)."""

    def scheduled(name: str) -> Invoke:
        return lambda event: invoke(name, event)

    def dead_letters(event: dict[str, Any]) -> Any:
        return invoke("dead_letters", event)

    mapping: _Loop = (
        RabbitDeadLetters(dead_letters, url=broker_url, shards=shards)
        if broker_url is not None
        else InProcessDeadLetters(dead_letters, broker=in_process)
    )
    rules = {
        name: Schedule(scheduled(name), rule=name, every_s=every_s)
        for name, every_s in schedules.items()
    }
    return Operations(rules, mapping)
