"""One CloudWatch dashboard per region and the alarms that page, through a KMS-encrypted topic.

Engine figures come from its EMF metrics (namespace ``Exchange``, dimensions ``service=engine`` and
``shard``; see ``engine_service/telemetry.py``). The functions' own EMF metrics carry the dimension
``service=<function name>`` (Powertools' service name is the function's).

Money safety pages on: a dead-lettered command, a journal gap or quarantined record in any stream
consumer, a snapshot store that fails or holds a snapshot that does not verify, and orders the
reconciler has cancelled that stay pending (the engine is not answering) for ten minutes.
Reconciliations themselves are normal and only graphed.

The dead man's switch pages when a timer dead-letters (an account's orders may not have been
cancelled) or when the oldest timer is older than the longest delay plus ``TIMER_LATE_SECONDS``
(the consumer is not keeping up, so switches fire late).
"""

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from exchange.messaging import command_queue
from exchange.observability import METRICS_NAMESPACE
from stacks.constructs.timers import MAX_DELAY_SECONDS

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)
# The DR objective is RPO < 1 minute: a consumer further behind than that is paged.
ITERATOR_AGE_LIMIT_MS = 60_000
API_P99_LIMIT_MS = 100  # DESIGN.md's API target
JOURNAL_WRITE_LIMIT_MS = 50
QUEUE_DEPTH_LIMIT = 10_000
AURORA_CPU_LIMIT = 80
AURORA_CONNECTIONS_LIMIT = 800
STUCK_ORDERS_MINUTES = 10  # orders pending after their reconcile this long: the engine is mute
# A timer is sent with a delay of at most MAX_DELAY_SECONDS; older than that by this much, it is
# late (whether or not SQS counts a message's age during its delay, the limit holds).
TIMER_LATE_SECONDS = 120
TIMER_AGE_LIMIT_SECONDS = MAX_DELAY_SECONDS + TIMER_LATE_SECONDS


def _emitted(metric: str, service: str, statistic: str = "Sum") -> cloudwatch.Metric:
    """A function's own EMF metric (``service`` is the function's name)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric,
        dimensions_map={"service": service},
        statistic=statistic,
        period=ONE_MINUTE,
        label=f"{metric} {service}",
    )


def _engine(metric: str, shard: str, statistic: str = "Average") -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric,
        dimensions_map={"service": "engine", "shard": shard},
        statistic=statistic,
        period=ONE_MINUTE,
        label=f"{metric} {shard}",
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        key: kms.IKey,
        alarm_email: str | None,
        rest_stage: apigw.Stage,
        functions: Mapping[str, lambda_.Function],
        consumers: Sequence[str],
        dead_letter_consumer: str,
        reconciler: str,
        failure_queues: Mapping[str, sqs.IQueue],
        timer_queue: sqs.IQueue,
        timer_dead_letters: sqs.IQueue,
        shards: Sequence[str],
        broker_name: str,
        tables: Mapping[str, str],
        ledger: rds.DatabaseCluster,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Alarms", display_name=f"{name} alarms", master_key=key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        api = [rest_stage.metric_latency(statistic="p99", period=ONE_MINUTE)]
        api_errors = [
            rest_stage.metric_client_error(period=ONE_MINUTE),
            rest_stage.metric_server_error(period=ONE_MINUTE),
        ]
        self._alarm("ApiLatency", api[0], API_P99_LIMIT_MS, periods=5, datapoints=3)
        self._alarm("Api5xx", rest_stage.metric_server_error(period=FIVE_MINUTES), 5)

        errors, throttles, durations = [], [], []
        for function_name, function in functions.items():
            errors.append(function.metric_errors(period=ONE_MINUTE, label=function_name))
            throttles.append(function.metric_throttles(period=ONE_MINUTE, label=function_name))
            durations.append(
                function.metric_duration(statistic="p99", period=ONE_MINUTE, label=function_name)
            )
            self._alarm(f"Errors-{function_name}", function.metric_errors(period=FIVE_MINUTES), 5)
            self._alarm(
                f"Throttles-{function_name}", function.metric_throttles(period=FIVE_MINUTES), 10
            )
        iterator_ages = []
        for consumer in consumers:
            age = functions[consumer].metric(
                "IteratorAge", statistic="Maximum", period=ONE_MINUTE, label=consumer
            )
            iterator_ages.append(age)
            self._alarm(f"IteratorAge-{consumer}", age, ITERATOR_AGE_LIMIT_MS, periods=3)
        for consumer, queue in failure_queues.items():
            self._alarm(
                f"Failed-{consumer}",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                0,
            )
        timers = self._timers(timer_queue, timer_dead_letters)
        journal_faults = []
        for consumer in consumers:
            for fault in ("JournalSequenceGaps", "JournalQuarantined"):
                metric = _emitted(fault, consumer)
                journal_faults.append(metric)
                self._alarm(f"{fault}-{consumer}", metric, 0)

        dead_letters = _emitted("DeadLetteredCommands", dead_letter_consumer)
        reconciled = _emitted("OrdersReconciled", reconciler)
        stuck = _emitted("ReconcilerStuckOrders", reconciler, "Maximum")
        self._alarm("DeadLetteredCommands", dead_letters, 0)
        self._alarm("ReconcilerStuckOrders", stuck, 0, periods=STUCK_ORDERS_MINUTES)

        commands = [_engine("CommandsPerSecond", shard) for shard in shards]
        journal = [_engine("JournalWriteLatency", shard, "p99") for shard in shards]
        recovery = [_engine("RecoveryTime", shard, "Maximum") for shard in shards]
        snapshot_faults = []
        for shard in shards:
            self._alarm(
                f"JournalLatency-{shard}",
                _engine("JournalWriteLatency", shard, "p99"),
                JOURNAL_WRITE_LIMIT_MS,
                periods=5,
                datapoints=3,
            )
            # Redis or S3 failing: the engine goes on (degraded), so only this says so.
            for fault in ("SnapshotStoreFailures", "SnapshotsRefused"):
                metric = _engine(fault, shard, "Sum")
                snapshot_faults.append(metric)
                self._alarm(f"{fault}-{shard}", metric, 0)
        queue_depth = [
            cloudwatch.Metric(
                namespace="AWS/AmazonMQ",
                metric_name="MessageCount",
                dimensions_map={
                    "Broker": broker_name,
                    "VirtualHost": "/",
                    "Queue": command_queue(shard),
                },
                statistic="Maximum",
                period=ONE_MINUTE,
                label=command_queue(shard),
            )
            for shard in shards
        ]
        for shard, depth in zip(shards, queue_depth, strict=True):
            self._alarm(f"QueueDepth-{shard}", depth, QUEUE_DEPTH_LIMIT, periods=3)

        table_throttles = [
            cloudwatch.Metric(
                namespace="AWS/DynamoDB",
                metric_name=kind,
                dimensions_map={"TableName": table},
                statistic="Sum",
                period=ONE_MINUTE,
                label=f"{logical} {kind}",
            )
            for logical, table in tables.items()
            for kind in ("ReadThrottleEvents", "WriteThrottleEvents")
        ]
        for metric in table_throttles:
            self._alarm(f"Throttled-{metric.label}", metric.with_(period=FIVE_MINUTES), 10)

        cpu = ledger.metric_cpu_utilization(period=ONE_MINUTE)
        connections = ledger.metric_database_connections(period=ONE_MINUTE)
        self._alarm("AuroraCpu", cpu.with_(period=FIVE_MINUTES), AURORA_CPU_LIMIT, periods=3)
        self._alarm("AuroraConnections", connections, AURORA_CONNECTIONS_LIMIT, periods=5)

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=name, default_interval=Duration.hours(3)
        )
        graph = _graphs(
            [
                ("API latency p99 (ms)", api),
                ("API 4xx / 5xx", api_errors),
                ("Lambda errors", errors),
                ("Lambda throttles", throttles),
                ("Lambda duration p99 (ms)", durations),
                ("Engine commands/s", commands),
                ("Journal write latency p99 (ms)", journal),
                ("Engine recovery time (ms)", recovery),
                ("Kinesis consumer iterator age (ms)", iterator_ages),
                ("Journal gaps / quarantined records", journal_faults),
                ("Dead letters / orders reconciled / stuck", [dead_letters, reconciled, stuck]),
                ("Snapshot store failures / refused snapshots", snapshot_faults),
                ("MQ command queue depth", queue_depth),
                ("Dead man's switch timers: oldest (s) / dead-lettered", timers),
                ("DynamoDB throttles", table_throttles),
                ("Aurora CPU (%)", [cpu]),
                ("Aurora connections", [connections]),
            ]
        )
        self.dashboard.add_widgets(*graph)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(alarms=list(self.alarms), title="Alarms", width=24)
        )

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
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name.replace(" ", ""),
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints or periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def _graphs(
    panels: Sequence[tuple[str, Sequence[cloudwatch.IMetric]]],
) -> list[cloudwatch.GraphWidget]:
    return [
        cloudwatch.GraphWidget(title=title, left=list(metrics), width=12, height=6)
        for title, metrics in panels
    ]
