"""The metrics the alarms and the dashboard read, by where they come from.

- The functions' own EMF metrics: namespace ``Exchange``, dimension ``service=<function name>``
  (Powertools' service name is the function's), plus the metric's own dimension where it has one
  (``reason``, ``symbol``, ``check``).
- The engine's: ``service=engine`` and ``shard`` (``engine_service/telemetry.py``).
- Amazon MQ's per queue (``Broker``, ``VirtualHost``, ``Queue``), Container Insights' per ECS
  service (``ClusterName``, ``ServiceName``).

Where the dimension's values are not known at deploy time (symbols listed at run time, reject
reasons, reconciliation checks) the dashboard uses SEARCH expressions ("CloudWatch search
expression syntax"), which an alarm cannot use; an alarm that must cover them all is a Metrics
Insights query ("Create a CloudWatch alarm based on a Metrics Insights query"), which may.
"""

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs

from exchange.domain import InstrumentStatus
from exchange.observability import METRICS_NAMESPACE

ONE_MINUTE: Final = Duration.minutes(1)
FIVE_MINUTES: Final = Duration.minutes(5)
RECORDER: Final = "recorder"  # the journal consumer that emits the business figures
# The SymbolStatus metric's value of each status (the recorder's and the reconciliation's code).
STATUS_CODES: Final = {status: code for code, status in enumerate(InstrumentStatus)}


def emitted(metric: str, service: str, statistic: str = "Sum") -> cloudwatch.Metric:
    """A function's own EMF metric (``service`` is the function's name)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric,
        dimensions_map={"service": service},
        statistic=statistic,
        period=ONE_MINUTE,
        label=f"{metric} {service}",
    )


def engine(metric: str, shard: str, statistic: str = "Average") -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric,
        dimensions_map={"service": "engine", "shard": shard},
        statistic=statistic,
        period=ONE_MINUTE,
        label=f"{metric} {shard}",
    )


def queue_depth(broker: str, queue: str) -> cloudwatch.Metric:
    """Messages in one RabbitMQ queue of the broker ("Monitoring Amazon MQ for RabbitMQ")."""
    return cloudwatch.Metric(
        namespace="AWS/AmazonMQ",
        metric_name="MessageCount",
        dimensions_map={"Broker": broker, "VirtualHost": "/", "Queue": queue},
        statistic="Maximum",
        period=ONE_MINUTE,
        label=queue,
    )


def running_tasks(cluster: ecs.ICluster, service: ecs.Ec2Service, shard: str) -> cloudwatch.Metric:
    """An engine service's RUNNING tasks (Container Insights: no data while none runs)."""
    return cloudwatch.Metric(
        namespace="ECS/ContainerInsights",
        metric_name="RunningTaskCount",
        dimensions_map={"ClusterName": cluster.cluster_name, "ServiceName": service.service_name},
        statistic="Maximum",
        period=ONE_MINUTE,
        label=f"running {shard}",
    )


def per_second(metric: str, service: str, label: str) -> cloudwatch.MathExpression:
    """An EMF count as a rate: the minute's sum over the period's seconds."""
    count = metric.lower()  # an expression's metric id: unique within a graph, lower case first
    return cloudwatch.MathExpression(
        expression=f"{count} / PERIOD({count})",
        using_metrics={count: emitted(metric, service)},
        label=label,
        period=ONE_MINUTE,
    )


def search(
    metric: str, dimension: str, service: str | None, statistic: str, period: Duration
) -> str:
    """Every series of ``metric`` that ``service`` (None: any function) emits, one per value of
    ``dimension`` (and per service)."""
    only = f' service="{service}"' if service else ""
    return (
        f"SEARCH('{{{METRICS_NAMESPACE},{dimension},service}} MetricName=\"{metric}\"{only}',"
        f" '{statistic}', {int(period.to_seconds())})"
    )


def delivery(
    stream: str,
) -> tuple[cloudwatch.Metric, tuple[cloudwatch.Metric, cloudwatch.Metric]]:
    """The archive's delivery stream (``AWS/Firehose``, dimension ``DeliveryStreamName``): the age
    of its oldest undelivered record, and its failures: records that failed Parquet conversion
    (``FailedConversion.Records``) and transform invocations that failed
    (``ExecuteProcessing.Success``, the share that succeeded: below 1 is a failure)."""

    def firehose(metric: str, statistic: str, period: Duration) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/Firehose",
            metric_name=metric,
            dimensions_map={"DeliveryStreamName": stream},
            statistic=statistic,
            period=period,
            label=metric,
        )

    return firehose("DeliveryToS3.DataFreshness", "Maximum", FIVE_MINUTES), (
        firehose("FailedConversion.Records", "Sum", FIVE_MINUTES),
        firehose("ExecuteProcessing.Success", "Minimum", FIVE_MINUTES),
    )


def searched(expression: str, label: str, period: Duration) -> cloudwatch.SearchExpression:
    return cloudwatch.SearchExpression(expression=expression, label=label, period=period)


def insights_sum(metric: str, dimension: str, service: str, period: Duration) -> cloudwatch.IMetric:
    """The sum of ``metric`` over every value of ``dimension``: one series, so an alarm may
    watch it (a Metrics Insights query; a SEARCH expression may not be alarmed on).

    The label keys are double-quoted: Metrics Insights reserves many SQL words, ``CHECK`` (the
    reconciliation's dimension) among them, and a reserved word used as a label key must be in
    double quotes ("Reserved keywords", CloudWatch Metrics Insights); quoting a key that is not
    reserved changes nothing, so every key is quoted."""
    schema = f'SCHEMA("{METRICS_NAMESPACE}", "{dimension}", "service")'
    # A CloudWatch Metrics Insights query of the app's own constants: no SQL database, no input.
    query = f"SELECT SUM({metric}) FROM {schema} WHERE \"service\" = '{service}'"  # noqa: S608
    return cloudwatch.MathExpression(
        expression=query,
        using_metrics={},
        label=f"{metric} (all {dimension}s)",
        period=period,
    )


def symbol_status(period: Duration) -> cloudwatch.SearchExpression:
    """Each symbol's status code: the recorder emits it when it changes, the reconciliation every
    run, so a window as long as the reconciliation's interval holds at least one value. The codes
    grow with what the status forbids, so the window's Maximum is the most restrictive status it
    saw: a halt shows even if the symbol resumed within the window."""
    expression = (
        f"SEARCH('{{{METRICS_NAMESPACE},service,symbol}} MetricName=\"SymbolStatus\"',"
        f" 'Maximum', {int(period.to_seconds())})"
    )
    return searched(expression, "", period)


def symbol_status_annotations() -> list[cloudwatch.HorizontalAnnotation]:
    """One line per status code, labelled: the legend of the symbol-status graph."""
    return [
        cloudwatch.HorizontalAnnotation(value=code, label=f"{code} {status.value}")
        for status, code in STATUS_CODES.items()
    ]
