"""What a health check found, and how the findings make one answer (pure: no I/O).

Each dependency gets a check with a status:

- ``ok``;
- ``degraded``: trading works, but something is behind or partly failing (an engine whose
  snapshot store fails, journal consumers lagging, their progress unreadable);
- ``fail``: what the check guards is down.

A *critical* check's ``fail`` means trading cannot work, and the answer is ``unhealthy`` (HTTP
503, and Route 53 fails the region over): the ledger database (every hold and balance), the
broker (every order, cancel and amend), Redis (books and the engine's heartbeats) and each engine
shard (its heartbeat missing or older than the maximum age). Any other non-``ok`` check makes the
answer ``degraded`` (HTTP 200): the journal consumers catch up from the journal, so their lag
delays fills, balances and market data but does not stop trading, and failing over a region for
it would cost more than it saves.
"""

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import msgspec

from exchange.heartbeat import Heartbeat, decode_heartbeat


class CheckStatus(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAIL = "fail"


class Overall(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One check. ``detail`` is for people and never holds a host, URL or secret."""

    status: CheckStatus
    latency_ms: float
    detail: str
    critical: bool
    age_ms: int | None = None  # an engine shard's heartbeat age
    seqs: Mapping[str, int] | None = None  # an engine shard's last journaled seq per symbol
    # The consumers' lag in events: consumer -> symbol -> the engine's seq minus the consumer's.
    lag: Mapping[str, Mapping[str, int]] | None = None

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAIL


@dataclass(frozen=True, slots=True)
class Report:
    checks: Mapping[str, CheckResult] = field(default_factory=dict)

    @property
    def status(self) -> Overall:
        if any(check.critical and check.failed for check in self.checks.values()):
            return Overall.UNHEALTHY
        if any(check.status is not CheckStatus.OK for check in self.checks.values()):
            return Overall.DEGRADED
        return Overall.OK

    @property
    def trading(self) -> bool:
        """Whether trading can work (the answer is 200)."""
        return self.status is not Overall.UNHEALTHY

    def failing(self) -> list[str]:
        """The critical checks that failed, by name."""
        return sorted(
            name for name, check in self.checks.items() if check.critical and check.failed
        )


# --- an engine shard's heartbeat ---------------------------------------------------------------


def judge_heartbeat(
    shard: str,
    stored: bytes | None,
    symbols: Sequence[str],
    *,
    now_ms: int,
    max_age_ms: float,
    latency_ms: float,
) -> CheckResult:
    """The check of one shard from its stored heartbeat (None: there is none). It fails when the
    beat is missing, unreadable, older than ``max_age_ms``, or without one of the shard's
    ``symbols``; an engine that says it is degraded is degraded."""
    beat: Heartbeat | None = None
    try:
        beat = None if stored is None else decode_heartbeat(stored)
    except msgspec.DecodeError:
        problem = "heartbeat unreadable: not a heartbeat"
    else:
        if beat is None:
            problem = "no heartbeat: the engine is not running its loop"
        elif beat.shard != shard:
            problem = f"heartbeat unreadable: it names shard {beat.shard!r}"
        else:
            problem = ""
    if beat is None or problem:
        return CheckResult(
            status=CheckStatus.FAIL, latency_ms=latency_ms, detail=problem, critical=True
        )
    age_ms = max(0, now_ms - beat.at_ms)  # a host clock a little ahead is no age
    missing = sorted(set(symbols) - set(beat.seqs))
    status, detail = CheckStatus.OK, "beating"
    if age_ms > max_age_ms:
        status = CheckStatus.FAIL
        detail = f"heartbeat {age_ms / 1000:.1f} s old (max {max_age_ms / 1000:g} s): stuck or down"
    elif missing:
        status, detail = CheckStatus.FAIL, f"the engine does not trade {', '.join(missing)}"
    elif beat.status != "ready":
        status, detail = CheckStatus.DEGRADED, f"engine {beat.status}"
    return CheckResult(
        status=status,
        latency_ms=latency_ms,
        detail=detail,
        critical=True,
        age_ms=age_ms,
        seqs=dict(sorted(beat.seqs.items())),
    )


# --- the journal consumers' lag -----------------------------------------------------------------

# A consumer this many events behind a symbol is degraded however fast it moves (with the events'
# ~1 KiB each, minutes of peak traffic).
LAG_DEGRADED_EVENTS: Final = 10_000
# A consumer that is behind and has not moved for this long is degraded: the Kinesis event source
# mappings deliver within seconds, so a minute means it is failing (retrying a record, throttled,
# or its mapping disabled).
STALLED_AFTER_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far one consumer applied one symbol (a row of the ``cursors`` table)."""

    last_seq: int
    updated_ns: int


def consumer_lag(
    consumers: list[str],
    engine_seqs: Mapping[str, int],
    cursors: Mapping[tuple[str, str], Cursor],
    *,
    now_ns: int,
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Each consumer's lag per symbol (symbols whose engine seq is known), and why it is degraded
    (empty when it is not).

    >>> lag, why = consumer_lag(["fanout"], {"BTC-USD": 12}, {("fanout", "BTC-USD"): Cursor(10, 0)},
    ...                         now_ns=61 * 10**9)
    >>> lag, why
    ({'fanout': {'BTC-USD': 2}}, ['fanout BTC-USD: 2 events behind, no progress for 61 s'])
    """
    lag: dict[str, dict[str, int]] = {}
    why: list[str] = []
    for consumer in consumers:
        behind = lag.setdefault(consumer, {})
        for symbol, engine_seq in sorted(engine_seqs.items()):
            cursor = cursors.get((consumer, symbol))
            applied = cursor.last_seq if cursor else 0
            # A beat is up to a second old, so a consumer may be ahead of it: that is no lag.
            events = max(0, engine_seq - applied)
            behind[symbol] = events
            if events >= LAG_DEGRADED_EVENTS:
                why.append(f"{consumer} {symbol}: {events} events behind")
            elif events and cursor is not None:
                idle_s = (now_ns - cursor.updated_ns) / 1e9
                if idle_s >= STALLED_AFTER_S:
                    why.append(
                        f"{consumer} {symbol}: {events} events behind, "
                        f"no progress for {idle_s:.0f} s"
                    )
    return lag, why
