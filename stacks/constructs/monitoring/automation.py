"""The DR runbooks' state machines (``stacks.constructs.failover``): a failed or timed-out
execution pages, since a failover that stopped half-way leaves the exchange between regions.

Step Functions publishes ``ExecutionsFailed`` and ``ExecutionsTimedOut`` (namespace AWS/States,
dimension ``StateMachineArn``) per state machine ("Monitoring Step Functions metrics using
Amazon CloudWatch"). An execution an operator stops on purpose (aborted) does not page.
"""

from collections.abc import Callable, Sequence

from aws_cdk import aws_cloudwatch as cloudwatch

from stacks.constructs.monitoring.metrics import FIVE_MINUTES, ONE_MINUTE
from stacks.constructs.monitoring.props import MonitoringProps

Alarm = Callable[[str, cloudwatch.IMetric, float], None]  # (name, metric, threshold)
Panels = list[tuple[str, Sequence[cloudwatch.IMetric]]]


def automation_panels(alarm: Alarm, props: MonitoringProps) -> Panels:
    """Alarms on each state machine's failed and timed-out executions; its executions graphed."""
    series: list[cloudwatch.IMetric] = []
    for name, machine in sorted(props.state_machines.items()):
        failed = machine.metric_failed(period=FIVE_MINUTES, statistic="Sum")
        timed_out = machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum")
        alarm(f"ExecutionsFailed-{name}", failed, 0)
        alarm(f"ExecutionsTimedOut-{name}", timed_out, 0)
        series += [
            machine.metric_started(period=ONE_MINUTE, statistic="Sum", label=f"{name} started"),
            machine.metric_succeeded(period=ONE_MINUTE, statistic="Sum", label=f"{name} done"),
            machine.metric_failed(period=ONE_MINUTE, statistic="Sum", label=f"{name} failed"),
        ]
    return [("DR runbooks: executions", series)] if series else []
