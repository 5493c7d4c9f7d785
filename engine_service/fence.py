"""The fence between the regions: which one may match, at which epoch.

A failover (or failback) writes one item of the ``failover`` global table (``FailoverRecord``):
``active_region`` moves to the region taking over and ``epoch`` grows by one, in one conditional
write (the failover state machine's; ``docs/deploy.md``). An engine acts on it twice:

- **at start** it waits, as a standby, until the record names its own region, and then takes the
  record's epoch: it stamps the epoch on every journal record and snapshot, and a snapshot of an
  older epoch tells recovery it is promoting (``engine_service.recovery``);
- **before every journal write** (``FencedJournal``) it checks the record again, at most
  ``ttl_s`` old: once another region or a newer epoch holds the fence, the write is refused
  (``Fenced``), so nothing more is acknowledged here and the task stops.

No item means a deployment that never failed over: the primary region is active at epoch 0
(``adapters.dynamo.DynamoFence`` reads the item).

The fence bounds, it does not remove, the overlap of two writers: a primary cut off from the
failover table goes on until its cached read is ``ttl_s`` old, and a primary region that is down
cannot be told at all. That is why the failover stops the primary's engines first when it can,
and why DR's consumers refuse a reused seq (``exchange.journal``): what overlaps is caught, never
applied twice.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from engine_service.ports import Journal, JournalPosition, JournalUnavailable
from exchange.observability import logger
from exchange.wire import JournalRecord

SCOPE = "exchange"


@dataclass(frozen=True, slots=True)
class FenceState:
    active_region: str
    epoch: int


class Fenced(JournalUnavailable):
    """This region no longer holds the fence (or holds it at a newer epoch): stop matching."""


class FenceSource(Protocol):
    def read(self) -> FenceState:
        """The fence now. Raises on a read that fails (the caller decides)."""


class StaticFence:
    """A fence that never moves (tests, and local mode's single region)."""

    def __init__(self, region: str, epoch: int = 0) -> None:
        self.state = FenceState(region, epoch)

    def read(self) -> FenceState:
        return self.state


def wait_until_active(
    fence: FenceSource,
    region: str,
    *,
    poll_s: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> FenceState | None:
    """Block until ``fence`` names ``region``; its state then, or None when ``stop`` said so
    first. A read that fails is logged and tried again (a standby keeps waiting)."""
    announced = False
    while not stop():
        try:
            state = fence.read()
        except Exception as exc:  # noqa: BLE001 - any read failure: wait and try again
            logger.warning("fence unreadable; waiting", extra={"error": repr(exc)})
        else:
            if state.active_region == region:
                return state
            if not announced:
                logger.info(
                    "standby: another region holds the fence",
                    extra={"active_region": state.active_region, "epoch": state.epoch},
                )
                announced = True
        sleep(poll_s)
    return None


class FencedJournal:
    """A journal that writes only while this region holds the fence at ``epoch``."""

    def __init__(
        self,
        journal: Journal,
        fence: FenceSource,
        *,
        region: str,
        epoch: int,
        ttl_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._journal = journal
        self._fence = fence
        self._region = region
        self._epoch = epoch
        self._ttl_s = ttl_s
        self._clock = clock
        self._checked_at: float | None = None

    def _check(self) -> None:
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self._ttl_s:
            return
        try:
            state = self._fence.read()
        except Exception as exc:  # cannot tell: do not write
            raise JournalUnavailable(f"the fence could not be read: {exc!r}") from exc
        if state.active_region != self._region or state.epoch != self._epoch:
            logger.error(
                "fenced: another region or epoch holds the fence; not writing",
                extra={"region": self._region, "epoch": self._epoch,
                       "active_region": state.active_region, "active_epoch": state.epoch},
            )  # fmt: skip
            raise Fenced(
                f"{state.active_region} holds the fence at epoch {state.epoch}; this engine is "
                f"{self._region} at epoch {self._epoch}"
            )
        self._checked_at = now

    def append(self, records: Sequence[JournalRecord]) -> JournalPosition:
        self._check()
        return self._journal.append(records)

    def read_after(
        self, position: JournalPosition
    ) -> Iterator[tuple[JournalRecord, JournalPosition]]:
        return self._journal.read_after(position)
