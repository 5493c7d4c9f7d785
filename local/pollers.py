"""Kinesis event source mappings, locally: one poller per (function, stream shard), reading with
GetShardIterator/GetRecords and invoking the function with AWS's batch event.

Failure handling follows an ESM with ``ReportBatchItemFailures``, ``BisectBatchOnFunctionError``
and ``MaximumRetryAttempts``:

- the function returns ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}``; the
  records before the lowest reported one are done, and the batch is retried from it;
- a function error (it raised, or reported an identifier not in the batch) fails the whole batch;
- a batch that fails at its first record is halved (bisected) until that record is alone; halving
  does not count as a retry, as in AWS;
- a record alone that still fails after ``max_retry_attempts`` retries goes to the on-failure
  destination (logged, kept in ``failures``, appended to a JSON-lines file) and is skipped, so one
  poison record never stalls the shard.
"""

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exchange.observability import logger
from exchange.testing.lambda_events import ACCOUNT_ID, REGION, kinesis_record
from local import recording
from local.cfn import TemplateError
from local.functions import FunctionError, FunctionMissing
from local.template import Deployment

Invoke = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class MappingConfig:
    batch_size: int = 100
    max_retry_attempts: int = 3
    bisect_on_error: bool = True
    starting_position: str = "TRIM_HORIZON"
    # An idle shard is read again after this long, or as soon as the stream is written to (the
    # stack wakes its pollers on every PutRecords it sees in moto).
    idle_poll_s: float = 1.0
    retry_backoff_s: float = 0.05  # doubled per retry, at most 1 s

    @classmethod
    def deployed(cls, deployment: Deployment, functions: list[str]) -> "MappingConfig":
        """The Kinesis event source mappings' settings as the template deploys them. The local
        pollers share one config, so the deployed mappings of ``functions`` must agree."""
        configs = {
            cls(
                batch_size=mapping.batch_size,
                max_retry_attempts=mapping.max_retry_attempts,
                bisect_on_error=mapping.bisect_on_error,
                starting_position=mapping.starting_position,
            )
            for mapping in (deployment.mapping_of(name) for name in functions)
        }
        if len(configs) != 1:
            raise TemplateError(f"the Kinesis mappings differ ({configs}); local pollers share one")
        return configs.pop()


@dataclass
class PollerStats:
    records: int = 0
    invocations: int = 0
    retries: int = 0
    skipped: int = 0
    lag_records: int = 0  # fetched but not yet done


@dataclass
class ShardPoller:
    kinesis: Any
    stream: str
    stream_arn: str
    shard_id: str
    function: str
    invoke: Invoke
    config: MappingConfig = field(default_factory=MappingConfig)
    failure_log: Path | None = None
    sleep: Callable[[float], None] = time.sleep
    stats: PollerStats = field(default_factory=PollerStats)
    failures: list[dict[str, Any]] = field(default_factory=list)
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _iterator: str | None = None
    _last_fetched: str | None = None
    _window: int = 0
    _attempts: int = 0

    # -- reading ---------------------------------------------------------------------------------
    def _fetch(self) -> None:
        if self._iterator is None:
            kwargs: dict[str, str] = (
                {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "StartingSequenceNumber": self._last_fetched,
                }
                if self._last_fetched
                else {"ShardIteratorType": self.config.starting_position}
            )
            self._iterator = self.kinesis.get_shard_iterator(
                StreamName=self.stream, ShardId=self.shard_id, **kwargs
            )["ShardIterator"]
        try:
            response = self.kinesis.get_records(
                ShardIterator=self._iterator, Limit=max(self.config.batch_size, 1000)
            )
        except (BotoCoreError, ClientError) as exc:
            logger.warning("GetRecords failed; new iterator", extra={"error": repr(exc)})
            self._iterator = None
            return
        self._iterator = response.get("NextShardIterator")
        for record in response["Records"]:
            self._pending.append(self._event_record(record))
            self._last_fetched = record["SequenceNumber"]

    def _event_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return kinesis_record(
            record, stream_arn=self.stream_arn, shard_id=self.shard_id, function=self.function
        )

    # -- processing ------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Fetch if nothing is pending, then work through what is pending. Returns the number of
        records fetched or still pending (0 means the shard was idle)."""
        if not self._pending:
            self._fetch()
        fetched = len(self._pending)
        while self._pending:
            self._step()
        return fetched

    def _step(self) -> None:
        window = self._window or self.config.batch_size
        batch = self._pending[:window]
        self.stats.lag_records = len(self._pending)
        failed_at = self._run(batch)
        if failed_at is None:
            self._done(len(batch))
            return
        if failed_at > 0:  # progress: the records before the failure are checkpointed
            self._done(failed_at)
            return
        if self.config.bisect_on_error and len(batch) > 1:
            self._window = max(1, len(batch) // 2)  # halving is not a retry
            return
        self._attempts += 1
        if self._attempts > self.config.max_retry_attempts:
            self._send_to_failure_destination(batch)
            self._done(len(batch), skipped=True)
            return
        self.stats.retries += 1
        self.sleep(min(self.config.retry_backoff_s * 2 ** (self._attempts - 1), 1.0))

    def _done(self, count: int, *, skipped: bool = False) -> None:
        del self._pending[:count]
        if skipped:
            self.stats.skipped += count
        else:
            self.stats.records += count
        self._attempts = 0
        self._window = 0
        self.stats.lag_records = len(self._pending)

    def _run(self, batch: list[dict[str, Any]]) -> int | None:
        """Invoke; None when the whole batch succeeded, else the index of the first failure."""
        self.stats.invocations += 1
        try:
            result = self.invoke({"Records": batch})
        except (FunctionError, FunctionMissing) as exc:
            logger.warning(
                "stream function failed", extra={"function": self.function, "error": str(exc)}
            )
            return 0
        failures = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
        if not failures:
            return None
        sequence_numbers = [record["kinesis"]["sequenceNumber"] for record in batch]
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in sequence_numbers:
                return 0  # AWS treats a bad identifier as a failure of the whole batch
            indexes.append(sequence_numbers.index(identifier))
        return min(indexes)

    def _send_to_failure_destination(self, batch: list[dict[str, Any]]) -> None:
        first, last = batch[0]["kinesis"], batch[-1]["kinesis"]
        failure = {
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function}",
                "approximateInvokeCount": self._attempts,
            },
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "KinesisBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": first["sequenceNumber"],
                "endSequenceNumber": last["sequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        self.failures.append(failure)
        logger.error("stream records skipped after retries", extra={"failure": failure})
        if self.failure_log is not None:
            with self.failure_log.open("a") as sink:
                sink.write(json.dumps(failure) + "\n")

    def run(self, stop: threading.Event, wake: "Wake") -> None:
        # The event source mapping reads the stream with the function's role.
        recording.current_principal.set(f"esm:{self.function}")
        while not stop.is_set():
            seen = wake.generation
            if not self.poll_once():
                wake.wait(seen, self.config.idle_poll_s)


class Wake:
    """A signal for every poller at once: "the stream was written to"."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.generation = 0

    def notify(self) -> None:
        with self._condition:
            self.generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout_s: float) -> None:
        """Until the generation moves past ``seen``, or ``timeout_s``."""
        with self._condition:
            self._condition.wait_for(lambda: self.generation != seen, timeout_s)


class Pollers:
    """Every stream function of the catalog, on every shard of the journal stream."""

    def __init__(self, pollers: list[ShardPoller]) -> None:
        self.pollers = pollers
        self._stop = threading.Event()
        self.wake = Wake()
        self._threads: list[threading.Thread] = []

    @classmethod
    def for_functions(
        cls,
        kinesis: Any,
        stream: str,
        functions: Mapping[str, Invoke],
        *,
        config: MappingConfig | None = None,
        failure_log: Path | None = None,
    ) -> "Pollers":
        description = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        pollers = [
            ShardPoller(
                kinesis=kinesis,
                stream=stream,
                stream_arn=description["StreamARN"],
                shard_id=shard["ShardId"],
                function=name,
                invoke=invoke,
                config=config or MappingConfig(),
                failure_log=failure_log,
            )
            for name, invoke in functions.items()
            for shard in description["Shards"]
        ]
        return cls(pollers)

    def start(self) -> None:
        for poller in self.pollers:
            thread = threading.Thread(
                target=poller.run,
                args=(self._stop, self.wake),
                name=f"esm-{poller.function}-{poller.shard_id[-4:]}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self.wake.notify()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def status(self) -> dict[str, Any]:
        return {
            f"{p.function}/{p.shard_id}": {**p.stats.__dict__, "failures": len(p.failures)}
            for p in self.pollers
        }
