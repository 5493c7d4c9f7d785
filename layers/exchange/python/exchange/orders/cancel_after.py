"""The dead man's switch (``POST /v1/orders/cancel-after``): unless the caller renews it within
``timeout_seconds``, every order it had open at the deadline is cancelled.

State: one item per account (``SwitchStore``; the ``order_keys`` table, sk ``CANCEL_AFTER_KEY``)
holding the deadline and the timeout. Timers: each arm or renewal queues a ``Timer`` (the
account and the deadline it set) delayed by the timeout (``TimerQueue``; SQS, whose per-message
delay goes up to 900 seconds). The ``cancel_after`` function receives each timer when its delay
is over and runs ``SwitchTrigger.fire``: it cancels only if the item still holds that timer's
deadline and the deadline has passed, so a timer of a renewed or disarmed switch does nothing.

Why each step is safe:

- An arm queues its timer first, then writes the deadline. A failed send writes nothing (503); a
  failed write leaves a timer whose deadline no item holds, which does nothing. So the deadline
  the item holds always has its timer on the way.
- The write is conditional: it may replace a running switch, never one whose deadline has passed.
  A renewal that comes too late finds the switch expired and fires it first (the cancels the
  timer would send, with the same command ids), then arms anew; the caller is told. So a deadline
  that passed unrenewed always cancels, whichever of the renewal and the timer runs first.
- The condition is checked at the write's time, not the request's: a renewal whose timer took
  seconds to queue finds a deadline that passed meanwhile expired, and fires it.
- A timer fires only a switch that still holds its deadline, read once the deadline has passed
  (a timer a little early waits, then reads again: the switch may have been renewed meanwhile).
- Firing cancels only orders placed before the deadline, and clears the item only if it still
  holds that deadline; a timer delivered twice finds it cleared.
"""

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from exchange.domain.errors import WireFormatError
from exchange.orders.errors import BrokerUnavailable, InvalidCancelAfter, StoreUnavailable
from exchange.orders.mass_cancel import MassCancel, MassCancelResult

SOURCE: Final = "cancel_after"  # in the command ids of the switch's cancels
_VERSION: Final = 1
# A timer can arrive a little before its deadline only by clock skew between hosts: it waits
# that out. A timer earlier than this is redelivered later instead (a failed batch item).
MAX_EARLY_MS: Final = 2_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Switch:
    deadline_ms: int
    timeout_seconds: int


@dataclass(frozen=True, slots=True)
class Timer:
    """The timer message: whose switch, and which deadline it was queued for.

    >>> Timer.decode(Timer("alice", 1_700_000_000_000).encode())
    Timer(account_id='alice', deadline_ms=1700000000000)
    """

    account_id: str
    deadline_ms: int

    def encode(self) -> str:
        document = {"v": _VERSION, "account_id": self.account_id, "deadline_ms": self.deadline_ms}
        return json.dumps(document, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> "Timer":
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise WireFormatError(f"timer is not JSON: {exc}") from exc
        if not isinstance(document, dict) or document.get("v") != _VERSION:
            raise WireFormatError("timer has no known version")
        account_id, deadline_ms = document.get("account_id"), document.get("deadline_ms")
        if not isinstance(account_id, str) or not account_id:
            raise WireFormatError("timer has no account_id")
        if isinstance(deadline_ms, bool) or not isinstance(deadline_ms, int) or deadline_ms < 0:
            raise WireFormatError("timer has no deadline_ms")
        return cls(account_id, deadline_ms)


class SwitchStore(ABC):
    @abstractmethod
    def get(self, account_id: str) -> Switch | None:
        """The account's switch (read consistently), or None when it is disarmed."""

    @abstractmethod
    def put(self, account_id: str, switch: Switch, *, now_ms: int) -> Switch | None:
        """Set the switch unless the one in place has expired (its deadline at or before
        ``now_ms``): None when written, else the expired switch (nothing written)."""

    @abstractmethod
    def remove(self, account_id: str, *, now_ms: int) -> Switch | None:
        """Disarm unless the switch has expired: None when removed (or absent), else the
        expired switch (nothing removed)."""

    @abstractmethod
    def clear(self, account_id: str, deadline_ms: int) -> bool:
        """Remove the switch if it still holds ``deadline_ms``; whether it did."""


class TimerQueue(ABC):
    @abstractmethod
    def schedule(self, timer: Timer, delay_seconds: int) -> None:
        """Deliver ``timer`` to the ``cancel_after`` function in ``delay_seconds``. Raises
        TimerUnavailable when it could not be queued."""


class Outcome(StrEnum):
    FIRED = "fired"  # the deadline passed unrenewed: the orders' cancels were sent
    STALE = "stale"  # renewed, disarmed or fired already: nothing to do
    EARLY = "early"  # delivered well before its deadline: to be delivered again


@dataclass(frozen=True, slots=True)
class State:
    """The switch as the API answers it; ``fired`` is a deadline that had passed unrenewed and
    whose cancels this call sent (a renewal that came too late)."""

    switch: Switch | None
    fired: Switch | None = None


class SwitchTrigger:
    """What a timer does when it is due; also run by an arm that finds the switch expired."""

    def __init__(
        self,
        *,
        switches: SwitchStore,
        mass_cancel: MassCancel,
        clock_ms: Callable[[], int] = now_ms,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._switches = switches
        self._mass_cancel = mass_cancel
        self._clock_ms = clock_ms
        self._sleep = sleep

    def fire(self, timer: Timer) -> Outcome:
        switch = self._switches.get(timer.account_id)
        if switch is None or switch.deadline_ms != timer.deadline_ms:
            return Outcome.STALE
        early = switch.deadline_ms - self._clock_ms()
        if early > MAX_EARLY_MS:
            return Outcome.EARLY
        if early > 0:
            self._sleep(early / 1000)
            # The switch could still be renewed or disarmed while its deadline was ahead: only
            # one that still holds this deadline, now passed (so no renewal can replace it any
            # more), fires.
            switch = self._switches.get(timer.account_id)
            if switch is None or switch.deadline_ms != timer.deadline_ms:
                return Outcome.STALE
            if switch.deadline_ms > self._clock_ms():
                return Outcome.EARLY
        self.cancel_expired(timer.account_id, switch)
        return Outcome.FIRED

    def cancel_expired(self, account_id: str, switch: Switch) -> MassCancelResult:
        """Cancel the orders placed before the switch's deadline, then clear it (if it still
        holds that deadline). Raises BrokerUnavailable, the switch kept, unless every cancel was
        sent, so that a retry (the timer's redelivery, the caller's) finishes the job."""
        result = self._mass_cancel.cancel_all(
            account_id,
            source=SOURCE,
            key=str(switch.deadline_ms),
            placed_before_ns=switch.deadline_ms * 1_000_000,
        )
        if not result.complete:
            raise BrokerUnavailable(
                f"{len(result.sent)} cancels sent, {len(result.not_sent)} not, truncated "
                f"{result.truncated}: the dead man's switch stays set to fire again"
            )
        self._switches.clear(account_id, switch.deadline_ms)
        return result


class DeadMansSwitch:
    """Arm, renew, disarm and read an account's switch (the orders function)."""

    def __init__(
        self,
        *,
        switches: SwitchStore,
        timers: TimerQueue,
        trigger: SwitchTrigger,
        min_seconds: int,
        max_seconds: int,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._switches = switches
        self._timers = timers
        self._trigger = trigger
        self._min = min_seconds
        self._max = max_seconds
        self._clock_ms = clock_ms

    def set(self, account_id: str, timeout_seconds: int) -> State:
        """Arm or renew with ``timeout_seconds``; 0 disarms."""
        if timeout_seconds == 0:
            return self._disarm(account_id)
        if not self._min <= timeout_seconds <= self._max:
            raise InvalidCancelAfter(
                f"timeout_seconds must be 0 (disarm) or between {self._min} and {self._max}, "
                f"was {timeout_seconds}"
            )
        switch = Switch(
            deadline_ms=self._clock_ms() + timeout_seconds * 1000, timeout_seconds=timeout_seconds
        )
        # The timer first: the deadline the item holds must always have its timer on the way.
        self._timers.schedule(Timer(account_id, switch.deadline_ms), timeout_seconds)
        # The time of the write, not of the request: the send may take seconds, and a switch
        # whose deadline passed meanwhile has expired unrenewed, so it fires, not replaced.
        expired = self._switches.put(account_id, switch, now_ms=self._clock_ms())
        if expired is None:
            return State(switch)
        self._trigger.cancel_expired(account_id, expired)
        if self._switches.put(account_id, switch, now_ms=self._clock_ms()) is not None:
            raise StoreUnavailable("the dead man's switch changed while it was being renewed")
        return State(switch, fired=expired)

    def get(self, account_id: str) -> State:
        return State(self._switches.get(account_id))

    def _disarm(self, account_id: str) -> State:
        expired = self._switches.remove(account_id, now_ms=self._clock_ms())
        if expired is None:
            return State(None)
        self._trigger.cancel_expired(account_id, expired)
        return State(None, fired=expired)
