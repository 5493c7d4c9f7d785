"""The shard's heartbeat in Redis (``exchange.heartbeat`` says what a beat holds and who reads it).

The matching loop makes each beat (``EngineRuntime.step``, about once a second) and hands it to
``RedisHeartbeat.beat``, which returns at once: a thread of its own writes the newest beat to
Redis. So a slow or unreachable Redis costs the loop nothing, while a loop that stops making
beats (stuck in a command, replaying, reconnecting) leaves the key to age and then expire: the
beat proves the loop runs, not merely that the process is alive.

The thread starts with the first beat and ends after ``idle_s`` without one (a local-mode
"crash" abandons its runtime without closing it); the next beat starts it again. A write that
fails is recorded in the shared ``StoreHealth`` (the engine's own health says ``degraded``) once
per outage, not once per beat.
"""

import threading
import time
from collections.abc import Callable, Mapping
from typing import Final

import redis

from engine_service.ports import StoreHealth
from exchange.heartbeat import HEARTBEAT_TTL_S, Heartbeat, encode_heartbeat, heartbeat_key
from exchange.observability import logger

STORE: Final = "heartbeat"  # its name in StoreHealth


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class RedisHeartbeat:
    def __init__(
        self,
        client: redis.Redis,
        shard: str,
        *,
        ttl_s: int = HEARTBEAT_TTL_S,
        health: StoreHealth | None = None,
        clock_ms: Callable[[], int] = wall_ms,
        idle_s: float = 10.0,
    ) -> None:
        self._client = client
        self._shard = shard
        self._key = heartbeat_key(shard)
        self._ttl_ms = ttl_s * 1000
        self._health = health or StoreHealth()
        self._clock_ms = clock_ms
        self._idle_s = idle_s
        self._newest: Heartbeat | None = None
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.written = 0  # beats Redis took

    # -- the loop's side: never blocks on Redis ------------------------------------------------
    def beat(self, seqs: Mapping[str, int], status: str) -> None:
        """Queue a beat made now; only the newest queued one is written."""
        if self._closed.is_set():
            return
        self._newest = Heartbeat(
            shard=self._shard, at_ms=self._clock_ms(), status=status, seqs=dict(seqs)
        )
        self._wake.set()
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name=f"heartbeat-{self._shard}", daemon=True
            )
            self._thread.start()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the thread and remove the key, so the shard shows as down at once rather than
        when its last beat grows stale (best-effort: the TTL removes it anyway)."""
        self._closed.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        try:
            self._client.delete(self._key)
        except redis.RedisError as exc:
            logger.warning(
                "heartbeat not removed", extra={"shard": self._shard, "error": repr(exc)}
            )

    # -- the writer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed.is_set():
            if not self._wake.wait(self._idle_s):
                return  # the loop stopped beating; the next beat starts a new thread
            self._wake.clear()
            beat, self._newest = self._newest, None
            if beat is not None and not self._closed.is_set():
                self.write(beat)

    def write(self, beat: Heartbeat) -> None:
        """One beat to Redis, with the key's TTL; a failure is logged and recorded, not raised."""
        try:
            self._client.set(self._key, encode_heartbeat(beat), px=self._ttl_ms)
        except redis.RedisError as exc:
            if not self._failing:
                self._failing = True
                self._health.failed(STORE, repr(exc))
                logger.warning(
                    "heartbeat not written", extra={"shard": self._shard, "error": repr(exc)}
                )
            return
        self.written += 1
        if self._failing:
            self._failing = False
            self._health.worked(STORE)
            logger.info("heartbeat written again", extra={"shard": self._shard})
