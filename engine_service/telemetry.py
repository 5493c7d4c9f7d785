"""EMF metrics of the engine service, flushed on an interval (CloudWatch reads them from stdout)."""

import dataclasses

from aws_lambda_powertools.metrics import MetricUnit

from engine_service.runtime import Counters, EngineRuntime
from exchange.observability import metrics

_COUNTS = {
    "commands": "CommandsProcessed",
    "operator_commands": "OperatorCommands",  # status, mass cancel, freeze, listing
    "events": "EventsJournaled",
    "duplicates": "DuplicatesDropped",
    "poison": "PoisonMessages",
    "flushes": "JournalWrites",
    "snapshots": "Snapshots",
    "reconnects": "BrokerReconnects",
}
# ``StoreHealth``'s counts: snapshot or book writes and reads that failed (Redis or S3 down), and
# snapshots refused as untrustworthy (a forged Redis value). Both are alarmed on.
_STORE_COUNTS = {"failures": "SnapshotStoreFailures", "refused": "SnapshotsRefused"}


class MetricsReporter:
    """Emits the counters' growth since the last report, as rates and totals."""

    def __init__(self, runtime: EngineRuntime) -> None:
        self._runtime = runtime
        self._last = Counters()
        self._last_store = dict.fromkeys(_STORE_COUNTS, 0)
        self._recovery_reported = False

    def report(self, interval_s: float) -> None:
        now = dataclasses.replace(self._runtime.counters)
        metrics.add_dimension(name="shard", value=self._runtime.config.shard)
        for field, name in _COUNTS.items():
            delta = getattr(now, field) - getattr(self._last, field)
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=delta)
        health = self._runtime.store_health
        for field, name in _STORE_COUNTS.items():
            total = getattr(health, field)
            metrics.add_metric(
                name=name, unit=MetricUnit.Count, value=total - self._last_store[field]
            )
            self._last_store[field] = total
        metrics.add_metric(
            name="CommandsPerSecond",
            unit=MetricUnit.CountPerSecond,
            value=(now.commands - self._last.commands) / interval_s,
        )
        metrics.add_metric(
            name="EventsPerSecond",
            unit=MetricUnit.CountPerSecond,
            value=(now.events - self._last.events) / interval_s,
        )
        flushes = now.flushes - self._last.flushes
        if flushes:
            metrics.add_metric(
                name="JournalWriteLatency",
                unit=MetricUnit.Milliseconds,
                value=(now.journal_ms - self._last.journal_ms) / flushes,
            )
            metrics.add_metric(
                name="JournalBatchEvents",
                unit=MetricUnit.Count,
                value=(now.events - self._last.events) / flushes,
            )
        lag = self._runtime.broker_lag()
        if lag is not None:
            metrics.add_metric(name="BrokerLag", unit=MetricUnit.Count, value=lag)
        if not self._recovery_reported:
            metrics.add_metric(
                name="RecoveryTime", unit=MetricUnit.Milliseconds, value=now.recovery_ms
            )
            self._recovery_reported = True
        metrics.flush_metrics()
        self._last = now
