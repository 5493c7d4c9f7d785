"""The region's alarms and dashboard, in a nested stack of the main stack (CloudFormation allows
500 resources per stack, the nested one counting as one: "CloudFormation quotas"). Each alarm
notifies the main stack's alarm topic on ALARM and on OK.

Money safety pages on: a dead-lettered command (the order's or an operator's), a message left in
an engine's dead-letter queue, a journal gap or quarantined record in any stream consumer, a
snapshot store that fails or holds a snapshot that does not verify, a reconciliation that finds
drift, a dividend its issuer cannot fund, and orders the reconciler has cancelled that stay pending
(the engine is not answering) for ten minutes. A scheduled function (the reconciler, the
reconciliation, the dividends) whose runs keep failing pages too: it would otherwise stop
silently, its own metrics missing (``RunsFailing-<function>``). An engine service without its
running task pages too (Container Insights reports nothing while no task runs, so no data is a
breach). The reconciler's own reconciliations are normal and only graphed.

The dead man's switch pages when a timer dead-letters (an account's orders may not have been
cancelled) or when the oldest timer is older than the longest delay plus ``TIMER_LATE_SECONDS``
(the consumer is not keeping up, so switches fire late).

Money out and notifications page on: a payout past its last attempt (the sweeper's
``PayoutsStuck``; docs/operations.md, "Stuck payouts"), a provider outcome that contradicts
the books (``PayoutsContradicted``), a message in the payouts' or the notices'
dead-letter queue, ``OUTAGE_FAILURES`` failed sends to the provider or SES in 15 minutes
(``PayoutsUnavailable``, ``NoticesNotSent``), and any error of the payout worker or the emailer
(their generic Errors alarm needs more than 5). The archive pages when its oldest undelivered
record is older than ``ARCHIVE_FRESHNESS_LIMIT_SECONDS`` ("Implement best practices with
CloudWatch Alarms", Amazon Data Firehose: DeliveryToS3.DataFreshness beyond the buffering limit,
at most 15 minutes), when a record fails Parquet conversion, or when a transform invocation
fails. In the DR region, a failed or timed-out failover or failback execution pages
(``automation``).
"""

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration, NestedStack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from exchange.messaging import command_queue, dead_letter_queue
from stacks.constructs.monitoring import metrics
from stacks.constructs.monitoring.automation import automation_panels
from stacks.constructs.monitoring.metrics import FIVE_MINUTES, ONE_MINUTE, RECORDER
from stacks.constructs.monitoring.props import MonitoringProps
from stacks.constructs.timers import MAX_DELAY_SECONDS

# The DR objective is RPO < 1 minute: a consumer further behind than that is paged.
ITERATOR_AGE_LIMIT_MS: Final = 60_000
API_P99_LIMIT_MS: Final = 100  # DESIGN.md's API target
JOURNAL_WRITE_LIMIT_MS: Final = 50
QUEUE_DEPTH_LIMIT: Final = 10_000
AURORA_CPU_LIMIT: Final = 80
AURORA_CONNECTIONS_LIMIT: Final = 800
STUCK_ORDERS_MINUTES: Final = (
    10  # orders pending after their reconcile this long: the engine is mute
)
# A timer is sent with a delay of at most MAX_DELAY_SECONDS; older than that by this much, it is
# late (whether or not SQS counts a message's age during its delay, the limit holds).
TIMER_LATE_SECONDS: Final = 120
TIMER_AGE_LIMIT_SECONDS: Final = MAX_DELAY_SECONDS + TIMER_LATE_SECONDS
# An engine service below its task count this many minutes running: a deployment's stop-then-
# start gap is shorter; a crash loop or a host that cannot be placed is not.
ENGINE_DOWN_MINUTES: Final = 3
# The reconciliation runs every 15 minutes: each window holds one run's figures.
RECONCILIATION_PERIOD: Final = Duration.minutes(15)
# A scheduled function pages when every run fails for this long, and at least two runs in a row:
# the generic Errors alarm (more than 5 in 5 minutes) cannot fire for a function that runs at
# most once a minute, and one failed run is retried by the next.
SCHEDULE_FAILING_MINUTES: Final = 5
# Firehose's buffer is 300 s, its multi-stage buffering with dynamic partitioning up to 1.5 times
# that ("Buffer data for dynamic partitioning"); past 15 minutes delivery is stuck.
ARCHIVE_FRESHNESS_LIMIT_SECONDS: Final = 900
# A provider or SES outage: at least this many failed sends in this long (each is retried).
OUTAGE_FAILURES: Final = 5
OUTAGE_PERIOD: Final = Duration.minutes(15)
SCHEDULE_FAILED_RUNS: Final = 2

Panels = list[tuple[str, Sequence[cloudwatch.IMetric]]]


def failed_runs_to_page(every_minutes: int) -> int:
    """How many runs in a row (one evaluation period each) must fail before a scheduled
    function pages: ``SCHEDULE_FAILED_RUNS``, or more for one that runs often.

    >>> failed_runs_to_page(1), failed_runs_to_page(15)
    (5, 2)
    """
    return max(SCHEDULE_FAILED_RUNS, -(-SCHEDULE_FAILING_MINUTES // every_minutes))


class AlarmsAndDashboard(NestedStack):
    """``alarms`` (each notifying ``topic``) and ``dashboard``, built from ``props``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, props: MonitoringProps, topic: sns.ITopic
    ) -> None:
        super().__init__(scope, construct_id, description=f"{props.name}: alarms and dashboard")
        self._topic = topic
        self.alarms: list[cloudwatch.Alarm] = []
        panels = [
            *self._api(props),
            *self._functions(props),
            *self._engine(props),
            *self._money(props),
            *self._money_out(props),
            *self._data(props),
            *automation_panels(self._alarm, props),
        ]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=props.dashboard_name,
            default_interval=Duration.hours(3),
        )
        self.dashboard.add_widgets(*self._business())
        self.dashboard.add_widgets(
            *[
                cloudwatch.GraphWidget(title=title, left=list(series), width=12, height=6)
                for title, series in panels
            ]
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(alarms=list(self.alarms), title="Alarms", width=24)
        )

    def _api(self, props: MonitoringProps) -> Panels:
        stage = props.rest_stage
        latency = stage.metric_latency(statistic="p99", period=ONE_MINUTE)
        self._alarm("ApiLatency", latency, API_P99_LIMIT_MS, periods=5, datapoints=3)
        self._alarm("Api5xx", stage.metric_server_error(period=FIVE_MINUTES), 5)
        errors = [
            stage.metric_client_error(period=ONE_MINUTE),
            stage.metric_server_error(period=ONE_MINUTE),
        ]
        return [("API latency p99 (ms)", [latency]), ("API 4xx / 5xx", errors)]

    def _functions(self, props: MonitoringProps) -> Panels:
        errors, throttles, durations = [], [], []
        for name, function in props.functions.items():
            errors.append(function.metric_errors(period=ONE_MINUTE, label=name))
            throttles.append(function.metric_throttles(period=ONE_MINUTE, label=name))
            durations.append(
                function.metric_duration(statistic="p99", period=ONE_MINUTE, label=name)
            )
            self._alarm(f"Errors-{name}", function.metric_errors(period=FIVE_MINUTES), 5)
            self._alarm(f"Throttles-{name}", function.metric_throttles(period=FIVE_MINUTES), 10)
        ages = []
        faults = []
        for consumer in props.consumers:
            age = props.functions[consumer].metric(
                "IteratorAge", statistic="Maximum", period=ONE_MINUTE, label=consumer
            )
            ages.append(age)
            self._alarm(f"IteratorAge-{consumer}", age, ITERATOR_AGE_LIMIT_MS, periods=3)
            # A reused seq (exchange.journal.epochs) blocks its symbol until an operator acts.
            for fault in ("JournalSequenceGaps", "JournalQuarantined", "JournalSeqReused"):
                metric = metrics.emitted(fault, consumer)
                faults.append(metric)
                self._alarm(f"{fault}-{consumer}", metric, 0)
        for name, every in props.schedules.items():
            self._alarm(
                f"RunsFailing-{name}",
                props.functions[name].metric_errors(period=Duration.minutes(every)),
                0,
                periods=failed_runs_to_page(every),
            )
        for consumer, queue in props.failure_queues.items():
            self._alarm(
                f"Failed-{consumer}",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                0,
            )
        timers = self._timers(props.timer_queue, props.timer_dead_letters)
        return [
            ("Lambda errors", errors),
            ("Lambda throttles", throttles),
            ("Lambda duration p99 (ms)", durations),
            ("Kinesis consumer iterator age (ms)", ages),
            ("Journal gaps / quarantined records / reused seqs", faults),
            ("Dead man's switch timers: oldest (s) / dead-lettered", timers),
        ]

    def _engine(self, props: MonitoringProps) -> Panels:
        shards, engine = props.shards, props.engine
        commands = [metrics.engine("CommandsPerSecond", shard) for shard in shards]
        journal = [metrics.engine("JournalWriteLatency", shard, "p99") for shard in shards]
        recovery = [metrics.engine("RecoveryTime", shard, "Maximum") for shard in shards]
        running = []
        snapshot_faults = []
        for shard in shards:
            self._alarm(
                f"JournalLatency-{shard}",
                metrics.engine("JournalWriteLatency", shard, "p99"),
                JOURNAL_WRITE_LIMIT_MS,
                periods=5,
                datapoints=3,
            )
            # Redis or S3 failing: the engine goes on (degraded), so only this says so.
            for fault in ("SnapshotStoreFailures", "SnapshotsRefused"):
                metric = metrics.engine(fault, shard, "Sum")
                snapshot_faults.append(metric)
                self._alarm(f"{fault}-{shard}", metric, 0)
            tasks = metrics.running_tasks(engine.cluster, engine.services[shard], shard)
            running.append(tasks)
            if engine.desired_count > 0:  # a cold DR region runs none on purpose
                self._alarm(
                    f"EngineNotRunning-{shard}",
                    tasks,
                    engine.desired_count,
                    periods=ENGINE_DOWN_MINUTES,
                    below=True,
                    missing=cloudwatch.TreatMissingData.BREACHING,
                )
        depth = [metrics.queue_depth(props.broker_name, command_queue(s)) for s in shards]
        for shard, metric in zip(shards, depth, strict=True):
            self._alarm(f"QueueDepth-{shard}", metric, QUEUE_DEPTH_LIMIT, periods=3)
        dead = [metrics.queue_depth(props.broker_name, dead_letter_queue(s)) for s in shards]
        for shard, metric in zip(shards, dead, strict=True):
            self._alarm(f"DeadLetterDepth-{shard}", metric, 0)
        return [
            ("Engine commands/s", commands),
            ("Journal write latency p99 (ms)", journal),
            ("Engine recovery time (ms)", recovery),
            ("Engine running tasks", running),
            ("Snapshot store failures / refused snapshots", snapshot_faults),
            ("MQ command queue depth", depth),
            ("MQ dead-letter queue depth", dead),
        ]

    def _money(self, props: MonitoringProps) -> Panels:
        dead_letters = metrics.emitted("DeadLetteredCommands", props.dead_letter_consumer)
        operator = metrics.emitted("DeadLetteredOperatorCommands", props.dead_letter_consumer)
        reconciled = metrics.emitted("OrdersReconciled", props.reconciler)
        stuck = metrics.emitted("ReconcilerStuckOrders", props.reconciler, "Maximum")
        unfunded = metrics.emitted("DividendsUnfunded", props.dividends)
        drift = metrics.insights_sum(
            "ReconciliationDrift", "check", props.reconciliation, RECONCILIATION_PERIOD
        )
        self._alarm("DeadLetteredCommands", dead_letters, 0)
        self._alarm("DeadLetteredOperatorCommands", operator, 0)
        self._alarm("ReconcilerStuckOrders", stuck, 0, periods=STUCK_ORDERS_MINUTES)
        self._alarm("DividendsUnfunded", unfunded, 0)
        self._alarm("ReconciliationDrift", drift, 0)
        by_check = metrics.searched(
            metrics.search(
                "ReconciliationDrift",
                "check",
                props.reconciliation,
                "Maximum",
                RECONCILIATION_PERIOD,
            ),
            "drift",
            RECONCILIATION_PERIOD,
        )
        return [
            ("Dead letters / orders reconciled / stuck", [dead_letters, reconciled, stuck]),
            ("Reconciliation drift by check", [by_check]),
            ("Dead-lettered operator commands / unfunded dividends", [operator, unfunded]),
        ]

    def _money_out(self, props: MonitoringProps) -> Panels:
        """Stuck payouts, the payouts' and notices' dead letters, the payout worker's and the
        emailer's errors, and the archive's freshness and failures."""
        stuck = metrics.emitted("PayoutsStuck", props.payout_sweeper).with_(period=FIVE_MINUTES)
        self._alarm("PayoutsStuck", stuck, 0)
        # The provider's outcome contradicts the books (the webhook answers 409, writes nothing).
        for service in ("deposits", "payouts"):
            contradicted = metrics.emitted("PayoutsContradicted", service)
            self._alarm(
                f"PayoutsContradicted-{service}", contradicted.with_(period=FIVE_MINUTES), 0
            )
        dead = []
        for queue, dead_letters in props.dead_letters.items():
            depth = dead_letters.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=ONE_MINUTE, label=f"dead-lettered {queue}"
            )
            dead.append(depth)
            self._alarm(f"DeadLettered-{queue}", depth, 0)
        # The worker and the emailer report failed messages back to SQS (partial batch
        # responses), so an outage of the provider or of SES is no Lambda error: their own counts
        # of failed sends are, well before the messages reach the dead-letter queues.
        for metric, service in (("PayoutsUnavailable", "payouts"), ("NoticesNotSent", "emailer")):
            failing = metrics.emitted(metric, service).with_(period=OUTAGE_PERIOD)
            self._alarm(metric, failing, OUTAGE_FAILURES - 1)
        for name in props.paging_errors:
            self._alarm(
                f"Failing-{name}", props.functions[name].metric_errors(period=FIVE_MINUTES), 0
            )
        freshness, (failed, processed) = metrics.delivery(props.delivery_stream)
        self._alarm("ArchiveFreshness", freshness, ARCHIVE_FRESHNESS_LIMIT_SECONDS, periods=3)
        self._alarm("ArchiveFailedConversion", failed, 0)
        self._alarm("ArchiveTransformFailing", processed, 1, below=True)
        failures = [failed, processed]
        return [
            ("Stuck payouts / dead-lettered payouts and notices", [stuck, *dead]),
            ("Archive: oldest undelivered record (s)", [freshness]),
            ("Archive: failed conversions / transform success", failures),
        ]

    def _data(self, props: MonitoringProps) -> Panels:
        table_throttles = [
            cloudwatch.Metric(
                namespace="AWS/DynamoDB",
                metric_name=kind,
                dimensions_map={"TableName": table},
                statistic="Sum",
                period=ONE_MINUTE,
                label=f"{logical} {kind}",
            )
            for logical, table in props.tables.items()
            for kind in ("ReadThrottleEvents", "WriteThrottleEvents")
        ]
        for metric in table_throttles:
            self._alarm(f"Throttled-{metric.label}", metric.with_(period=FIVE_MINUTES), 10)
        cpu = props.ledger.metric_cpu_utilization(period=ONE_MINUTE)
        connections = props.ledger.metric_database_connections(period=ONE_MINUTE)
        self._alarm("AuroraCpu", cpu.with_(period=FIVE_MINUTES), AURORA_CPU_LIMIT, periods=3)
        self._alarm("AuroraConnections", connections, AURORA_CONNECTIONS_LIMIT, periods=5)
        return [
            ("DynamoDB throttles", table_throttles),
            ("Aurora CPU (%)", [cpu]),
            ("Aurora connections", [connections]),
        ]

    def _business(self) -> list[cloudwatch.IWidget]:
        """The first row: what the venue does (the recorder's figures) and each symbol's status."""
        rates = [
            metrics.per_second("OrdersAccepted", RECORDER, "orders/s"),
            metrics.per_second("Fills", RECORDER, "fills/s"),
        ]
        # The engine's rejections (the recorder: a RejectReason) and the API's refusals (the
        # orders function: a problem code), each series labelled by its service and reason.
        rejects = metrics.search("OrdersRejected", "reason", None, "Sum", ONE_MINUTE)
        notional = metrics.search("TradedNotional", "symbol", RECORDER, "Sum", FIVE_MINUTES)
        codes = ", ".join(f"{code} {s.value}" for s, code in metrics.STATUS_CODES.items())
        return [
            cloudwatch.GraphWidget(title="Orders accepted / fills per second", left=rates, width=6),
            cloudwatch.GraphWidget(
                title="Rejected orders by reason: engine and API (per minute)",
                left=[metrics.searched(rejects, "", ONE_MINUTE)],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Traded notional per symbol (quote units per 5 minutes)",
                left=[metrics.searched(notional, "", FIVE_MINUTES)],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title=f"Symbol status ({codes})",
                left=[metrics.symbol_status(RECONCILIATION_PERIOD)],
                left_y_axis=cloudwatch.YAxisProps(min=0, max=4, show_units=False),
                left_annotations=metrics.symbol_status_annotations(),
                legend_position=cloudwatch.LegendPosition.RIGHT,
                width=6,
            ),
        ]

    def _timers(self, queue: sqs.IQueue, dead_letters: sqs.IQueue) -> list[cloudwatch.IMetric]:
        """The dead man's switch's alarms (late timers, dead-lettered ones) and their metrics."""
        age = queue.metric_approximate_age_of_oldest_message(
            statistic="Maximum", period=ONE_MINUTE, label="oldest timer (s)"
        )
        dead = dead_letters.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=ONE_MINUTE, label="dead-lettered timers"
        )
        self._alarm("TimersLate", age, TIMER_AGE_LIMIT_SECONDS, periods=3)
        self._alarm("TimersDeadLettered", dead, 0)
        return [age, dead]

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        *,
        periods: int = 1,
        datapoints: int | None = None,
        below: bool = False,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        """Above ``threshold`` (below it when ``below``) for ``datapoints`` of ``periods``."""
        alarm = cloudwatch.Alarm(
            self,
            name.replace(" ", ""),
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints or periods,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            if below
            else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self._topic))
        alarm.add_ok_action(actions.SnsAction(self._topic))
        self.alarms.append(alarm)
