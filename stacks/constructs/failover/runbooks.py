"""The failover and failback runbooks (docs/deploy.md, "Disaster recovery") as state definitions.

Failover, in order: FencePrimary (the primary's engines to 0 and its schedules off, unless the
input says ``"primaryUnreachable": true``; then the fencing record), PromoteAurora, StartDrEngines,
SwitchDns, EnableDrSchedules, VerifyHealth. Failback reverses it once the primary is back: FenceDr
(the DR schedules off, its engines to 0, the fencing record back), SwitchoverAurora,
StartPrimaryEngines, SwitchDnsBack, EnablePrimarySchedules, RestoreDrStandby, VerifyHealth.

AWS behaviour relied on (each page's name): "FailoverGlobalCluster" (``AllowDataLoss``: a
failover for an outage; without it a switchover), "SwitchoverGlobalCluster" (a planned switch,
no data loss, every secondary in sync), "DescribeGlobalClusters"
(``GlobalClusterMembers[].IsWriter``; ``Status`` back to ``available``), "UpdateService" and
"DescribeServices" (Amazon ECS API), "Learning to use AWS service SDK integrations in Step
Functions" (parameters in PascalCase; results as the SDK names them, e.g.
``Services[0].RunningCount``, RDS's ``DbClusterArn``), "Call DynamoDB with
Step Functions" (``UpdateItem``; an error is ``DynamoDB.<Exception>``), "Condition expressions"
and "Update expressions" (DynamoDB: ``attribute_not_exists``, ``if_not_exists(epoch, :zero) +
:one``), "EnableRule"/"DisableRule" (EventBridge) and "UpdateHealthCheck" (Route 53: ``Inverted``).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from lambdas import dr_control
from stacks.constructs.failover.states import Runbook, counted

FENCE_SCOPE: Final = "exchange"  # the fencing record's key (FailoverRecord.scope)
CONDITION_FAILED: Final = "DynamoDB.ConditionalCheckFailedException"
# Polling: how often, and how many checks before the step fails.
ENGINES_STOP_EVERY, ENGINES_STOP_CHECKS = Duration.seconds(15), 16  # SIGTERM, drain: up to 120 s
AURORA_EVERY, AURORA_CHECKS = Duration.seconds(20), 45  # a promotion takes 1-2 minutes
ENGINES_START_EVERY, ENGINES_START_CHECKS = Duration.seconds(30), 40  # a cold host: 3-5 minutes
HEALTH_EVERY, HEALTH_CHECKS = Duration.seconds(15), 40  # replay, consumers catching up


@dataclass(frozen=True, slots=True, kw_only=True)
class Named:
    """A resource the state machine calls by name, and its ARN (for the role's policy)."""

    name: str
    arn: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """One region as the runbooks see it."""

    region: str
    engine_cluster_arn: str
    engines: Mapping[str, Named]  # shard -> its engine service
    ledger_cluster_arn: str
    schedules: Mapping[str, Named]  # scheduled function -> its EventBridge rule
    health_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    primary: Side
    dr: Side
    global_cluster_id: str
    global_cluster_arn: str
    fence: dynamodb.ITable  # the fencing record's table, the DR region's replica
    switch_id: str | None  # the primary's DNS failover switch (a Route 53 health check)
    switch_arn: str | None
    dr_standby: int  # the DR engines' count while the primary is active (drEngineDesiredCount)


class Steps:
    """The tasks both runbooks are made of, on one ``Runbook``."""

    def __init__(self, book: Runbook, topology: Topology, control: lambda_.IFunction) -> None:
        self.book, self.topology, self.control = book, topology, control

    def validate(self, keys: Sequence[str], start: sfn.IChainable) -> sfn.Choice:
        """The input: a reason (3-500 characters), optionally ``primaryUnreachable`` (a boolean:
        only ``true`` itself skips stopping the primary), no other key."""
        allowed = ", ".join(f'"{key}"' for key in keys)
        valid = (
            "{% $type($states.input.reason) = 'string'"
            " and $length($trim($states.input.reason)) >= 3"
            " and $length($states.input.reason) <= 500"
            " and ($not($exists($states.input.primaryUnreachable))"
            " or $type($states.input.primaryUnreachable) = 'boolean')"
            f" and $count($keys($states.input)[$not($ in [{allowed}])]) = 0 %}}"
        )
        invalid = sfn.Fail.jsonata(
            self.book.scope,
            "InvalidInput",
            error="InvalidInput",
            cause=f'The input takes {allowed}: {{"reason": "why (3-500 characters)"'
            + (', "primaryUnreachable": true}' if "primaryUnreachable" in keys else "}"),
        )
        choice = sfn.Choice.jsonata(self.book.scope, "ValidateInput")
        choice.when(
            sfn.Condition.jsonata(valid),
            start,
            assign={
                "reason": "{% $trim($states.input.reason) %}",
                "primaryUnreachable": "{% $states.input.primaryUnreachable = true %}",
                "polls": 0,
            },
        )
        return choice.otherwise(invalid)

    def control_call(
        self,
        step: str,
        name: str,
        payload: Mapping[str, object],
        *,
        check: bool = False,
    ) -> tasks.LambdaInvoke:
        """The control function (``lambdas.dr_control``) in the other region. A check counts
        itself and is guarded by ``Runbook.poll``; any other call is guarded here."""
        task = tasks.LambdaInvoke.jsonata(
            self.book.scope,
            name,
            lambda_function=self.control,
            payload=sfn.TaskInput.from_object(dict(payload)),
            outputs="{% $states.result.Payload %}",
            assign=counted() if check else None,
        )
        return task if check else self.book.guard(task, step)

    def sdk(
        self,
        step: str,
        name: str,
        *,
        call: str,
        resources: Sequence[str],
        parameters: Mapping[str, object],
        outputs: object = None,
        check: bool = False,
    ) -> tasks.CallAwsService:
        """An AWS SDK integration in this region: ``call`` is ``service:Action`` as IAM names it
        (EventBridge's SDK service is ``eventbridge``, its IAM prefix ``events``)."""
        prefix, action = call.split(":")
        task = tasks.CallAwsService.jsonata(
            self.book.scope,
            name,
            service="eventbridge" if prefix == "events" else prefix,
            action=action[0].lower() + action[1:],
            iam_action=call,
            iam_resources=list(resources),
            parameters=dict(parameters),
            outputs=outputs,
            assign=counted() if check else None,
        )
        return task if check else self.book.guard(task, step)

    def scale(self, step: str, verb: str, side: Side, count: int) -> list[tasks.CallAwsService]:
        """UpdateService desiredCount ``count`` on each of ``side``'s engine services."""
        return [
            self.sdk(
                step,
                f"{verb}-{shard}",
                call="ecs:UpdateService",
                resources=[service.arn],
                parameters={
                    "Cluster": side.engine_cluster_arn,
                    "Service": service.arn,
                    "DesiredCount": count,
                },
                outputs={
                    "service": "{% $states.result.Service.ServiceName %}",
                    "desired": "{% $states.result.Service.DesiredCount %}",
                },
            )
            for shard, service in sorted(side.engines.items())
        ]

    def engines_settled(self, step: str, name: str, side: Side, count: int) -> tasks.CallAwsService:
        """DescribeServices: is every engine service at ``count``, desired and running?"""
        services = [service.arn for _, service in sorted(side.engines.items())]
        settled = (
            f"{{% $count($states.result.Services[DesiredCount = {count}"
            f" and RunningCount = {count} and PendingCount = 0]) = {len(services)} %}}"
        )
        return self.sdk(
            step,
            name,
            call="ecs:DescribeServices",
            resources=services,
            parameters={"Cluster": side.engine_cluster_arn, "Services": services},
            outputs={
                "settled": settled,
                "services": "{% [$states.result.Services.{'service': ServiceName,"
                " 'desired': DesiredCount, 'running': RunningCount, 'pending': PendingCount}] %}",
            },
            check=True,
        )

    def schedules(self, step: str, side: Side, *, enabled: bool) -> list[tasks.CallAwsService]:
        verb = "Enable" if enabled else "Disable"
        return [
            self.sdk(
                step,
                f"{verb}Schedule-{function}",
                call=f"events:{verb}Rule",
                resources=[rule.arn],
                parameters={"Name": rule.name},
                outputs={"rule": rule.name, "enabled": enabled},
            )
            for function, rule in sorted(side.schedules.items())
        ]

    def global_cluster(
        self, step: str, name: str, writer: Side, *, check: bool
    ) -> sfn.TaskStateBase:
        """DescribeGlobalClusters, reduced to: is ``writer``'s cluster the writer, and is the
        global cluster ``available`` (no failover or switchover under way)?"""
        topology = self.topology
        members = "$states.result.GlobalClusters[0].GlobalClusterMembers"
        writers = f"{members}[IsWriter = true].[DbClusterArn, DBClusterArn]"
        status = "$states.result.GlobalClusters[0].Status"
        return self.sdk(
            step,
            name,
            call="rds:DescribeGlobalClusters",
            resources=[topology.global_cluster_arn],
            parameters={"GlobalClusterIdentifier": topology.global_cluster_id},
            outputs={
                "done": f"{{% {status} = 'available' and '{writer.ledger_cluster_arn}' in"
                f" {writers} %}}",
                "status": f"{{% $string({status}) %}}",
                "writers": f"{{% [{writers}] %}}",
            },
            check=check,
        )

    def fence(self, step: str, *, to: Side, frm: Side, first: bool) -> tasks.DynamoUpdateItem:
        """The fencing record: ``active_region`` to ``to`` and ``epoch`` one up, only while it
        names ``frm`` (or, on the first failover ever, while there is none: the primary is
        active at epoch 0). A refused condition is not retried: another run moved it."""
        names = {
            "#active": "active_region",
            "#epoch": "epoch",
            "#updated": "updated_ns",
            "#reason": "reason",
        }
        value = tasks.DynamoAttributeValue
        condition = "#active = :from"
        task = tasks.DynamoUpdateItem.jsonata(
            self.book.scope,
            "WriteFencingRecord",
            table=self.topology.fence,
            key={"scope": value.from_string(FENCE_SCOPE)},
            update_expression="SET #active = :to, #epoch = if_not_exists(#epoch, :zero) + :one,"
            " #updated = :now, #reason = :reason",
            condition_expression=f"attribute_not_exists(#active) OR {condition}"
            if first
            else condition,
            expression_attribute_names=names,
            expression_attribute_values={
                ":to": value.from_string(to.region),
                ":from": value.from_string(frm.region),
                ":zero": value.from_number(0),
                ":one": value.from_number(1),
                # Nanoseconds, to the millisecond: JSONata's numbers are doubles.
                ":now": value.number_from_string("{% $string($millis()) & '000000' %}"),
                ":reason": value.from_string(
                    "{% $reason & ' (' & $states.context.Execution.Name & ')' %}"
                ),
            },
            return_values=tasks.DynamoReturnValues.UPDATED_NEW,
            assign={"epoch": "{% $number($states.result.Attributes.epoch.N) %}"},
        )
        return self.book.guard(task, step, never_retry=[CONDITION_FAILED])

    def health(self, step: str, target: str, then: sfn.IChainable) -> tasks.LambdaInvoke:
        """Probe ``target``'s health route until it answers 200 (``HEALTH_CHECKS`` probes)."""
        name = "Dr" if target == dr_control.DR else "Primary"
        probe = self.control_call(
            step,
            f"Probe{name}Health",
            {"action": dr_control.PROBE_HEALTH, "target": target},
            check=True,
        )
        self.book.poll(
            step,
            f"{name}Healthy",
            check=probe,
            done="{% $states.input.healthy %}",
            every=HEALTH_EVERY,
            attempts=HEALTH_CHECKS,
            then=then,
        )
        return probe
