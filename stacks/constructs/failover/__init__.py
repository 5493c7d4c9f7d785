"""Failover as one command: the DR region's failover and failback state machines.

Both live in the DR stack (``Exchange-<env>-dr``, us-west-2): the region that must work when the
primary does not. ``exchange dr failover`` starts ``exchange-<env>-failover`` and ``exchange dr
failback`` starts ``exchange-<env>-failback`` (``exchange_client.dr_cli``); ``runbooks`` lists their
steps. What they do in the DR region they do through Step Functions' AWS SDK and DynamoDB
integrations; what they do in the primary region goes through the control function
(``lambdas.dr_control``), because Step Functions' SDK integrations call the state machine's own
region only ("Accessing resources in other AWS accounts in Step Functions").

Least privilege: each state machine's role names every resource it touches (the fencing table's
DR replica and the data key through DynamoDB only, the global cluster and both member clusters,
the DR engine services, the DR schedules' rules, the primary's DNS failover switch, the control
function); the control function's role names the primary's engine services and schedule rules.
Only Step Functions' log delivery and X-Ray have no resource scope. Each execution logs every
event (encrypted, to ``/aws/vendedlogs/states/<name>``) and is traced; a failed or timed-out
execution pages (``stacks.constructs.monitoring``).
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Protocol

from aws_cdk import ArnFormat, Duration, Fn, IgnoreMode, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas import dr_control
from stacks import constants
from stacks.config import DeploymentConfig
from stacks.constructs.api import Api
from stacks.constructs.data import Data
from stacks.constructs.dns import ApiFailoverRecord
from stacks.constructs.engine import Engine
from stacks.constructs.failover.definitions import failback, failover
from stacks.constructs.failover.runbooks import Named, Side, Steps, Topology
from stacks.constructs.failover.states import Runbook
from stacks.constructs.functions import Functions
from stacks.constructs.grants import KEY_WRITE_ACTIONS
from stacks.constructs.nag import acknowledge, render

__all__ = ["DrAutomation", "Named", "Side", "Topology", "dr_automation"]

# A runbook that has not finished in this long has stopped making progress: it times out (and
# pages). Its longest polls add up to about an hour.
EXECUTION_TIMEOUT: Final = Duration.hours(2)
CONTROL_TIMEOUT: Final = Duration.seconds(60)
FENCE_TABLE: Final = "failover"  # the fencing record's table (exchange.tables.FailoverRecord)


class RegionParts(Protocol):
    """What the runbooks need of a region's main stack (``stacks.regional_stack``)."""

    @property
    def region(self) -> str: ...
    @property
    def stack_name(self) -> str: ...

    data: Data
    engine: Engine
    functions: Functions
    api: Api
    dns: ApiFailoverRecord | None


def side(parts: RegionParts, health_url: str) -> Side:
    return Side(
        region=parts.region,
        engine_cluster_arn=parts.engine.cluster.cluster_arn,
        engines={
            shard: Named(name=service.service_name, arn=service.service_arn)
            for shard, service in parts.engine.services.items()
        },
        ledger_cluster_arn=parts.data.ledger.cluster.cluster_arn,
        schedules={
            name: Named(name=rule.rule_name, arn=rule.rule_arn)
            for name, rule in parts.functions.schedules.items()
        },
        health_url=health_url,
    )


def dr_automation(
    scope: Construct,
    dr: RegionParts,
    primary: RegionParts,
    *,
    config: DeploymentConfig,
    key: kms.IKey,
) -> "DrAutomation":
    """The DR stack's state machines, over its own resources and the primary stack's."""
    stack = Stack.of(scope)
    if FENCE_TABLE not in dr.data.table_names:
        raise ValueError(f"the failover needs the {FENCE_TABLE!r} table (FailoverRecord)")
    switch = primary.dns.failover_switch if primary.dns else None
    # The primary's REST API URL as its stack outputs it (its API is in a nested stack there).
    primary_url = Fn.get_stack_output(primary.stack_name, "RestApiUrl", region=primary.region)
    global_id = config.resource_name("ledger")
    topology = Topology(
        primary=side(primary, f"{primary_url}{constants.HEALTH_PATH.lstrip('/')}"),
        dr=side(dr, dr.api.rest.api.url_for_path(constants.HEALTH_PATH)),
        global_cluster_id=global_id,
        global_cluster_arn=stack.format_arn(
            service="rds",
            region="",
            resource="global-cluster",
            resource_name=global_id,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        ),
        fence=dynamodb.Table.from_table_name(scope, "FenceTable", dr.data.table_names[FENCE_TABLE]),
        switch_id=switch.health_check_id if switch else None,
        switch_arn=stack.format_arn(
            service="route53",
            region="",
            account="",
            resource="healthcheck",
            resource_name=switch.health_check_id,
        )
        if switch
        else None,
        dr_standby=config.dr_engine_desired_count,
    )
    return DrAutomation(scope, "Failover", config=config, topology=topology, key=key)


class DrAutomation(Construct):
    """``state_machines``: ``failover`` and ``failback``; ``control``: the control function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        topology: Topology,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config, self._key = config, key
        self.control = self._control(topology)
        machines = {}
        for name, definition in (("failover", failover), ("failback", failback)):
            book = Runbook(Construct(self, f"{name.title()}States"))
            start = definition(Steps(book, topology, self.control))
            machines[name] = self._machine(name, start, topology)
        self.state_machines: Mapping[str, sfn.StateMachine] = MappingProxyType(machines)

    def _machine(self, name: str, start: sfn.IChainable, topology: Topology) -> sfn.StateMachine:
        config = self._config
        physical = config.resource_name(name)
        log_group = logs.LogGroup(
            self,
            f"{name.title()}Logs",
            log_group_name=f"/aws/vendedlogs/states/{physical}",
            retention=config.retention,
            encryption_key=self._key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            name.title(),
            state_machine_name=physical,
            comment=f"The {name} runbook (docs/deploy.md); started by `exchange dr {name}`",
            definition_body=sfn.DefinitionBody.from_chainable(start),
            query_language=sfn.QueryLanguage.JSONATA,
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        # The fencing record's table is encrypted with the region's data key: the caller's
        # role may use it, through DynamoDB only ("Encryption at rest: how it works", DynamoDB).
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(KEY_WRITE_ACTIONS),
                resources=[self._key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"dynamodb.{topology.dr.region}.amazonaws.com"
                    }
                },
            )
        )
        control = render(self, self.control.function_arn)
        acknowledge(
            machine,
            {
                "AwsSolutions-IAM5[Resource::*]": "Step Functions' log delivery"
                " (logs:CreateLogDelivery and friends) and X-Ray have no resource-level"
                " permissions; every AWS call of the runbook names its resource.",
                f"AwsSolutions-IAM5[Resource::{control}:*]": "The CDK's Lambda task grants the"
                " control function and its versions; it is this one function and nothing else.",
            },
        )
        return machine

    def _control(self, topology: Topology) -> lambda_.Function:
        """The control function: boto3 in the primary region, health probes of both."""
        config, primary, dr = self._config, topology.primary, topology.dr
        role = iam.Role(
            self,
            "ControlRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="The DR runbooks' calls into the primary region, and health probes",
        )
        log_group = logs.LogGroup(
            self,
            "ControlLogs",
            retention=config.retention,
            encryption_key=self._key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        engines = sorted(primary.engines.items())
        rules = sorted(primary.schedules.items())
        targets = {
            dr_control.PRIMARY: {
                "region": primary.region,
                "cluster": primary.engine_cluster_arn,
                "services": [service.arn for _, service in engines],
                "rules": [rule.name for _, rule in rules],
                "health_url": primary.health_url,
            },
            dr_control.DR: {"region": dr.region, "health_url": dr.health_url},
        }
        function = lambda_.Function(
            self,
            "Control",
            function_name=config.resource_name("dr-control"),
            description="DR runbooks: the primary region's engines and schedules; health probes",
            code=lambda_.Code.from_asset(
                str(constants.REPO_ROOT),
                ignore_mode=IgnoreMode.DOCKER,
                exclude=list(constants.LAMBDA_CODE_EXCLUDE),
            ),
            handler="lambdas.dr_control.handler.handler",
            runtime=constants.LAMBDA_RUNTIME,
            architecture=constants.LAMBDA_ARCHITECTURE,
            memory_size=256,
            timeout=CONTROL_TIMEOUT,
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            environment={dr_control.TARGETS_ENV: Stack.of(self).to_json_string(targets)},
            environment_encryption=self._key,
        )
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServices", "ecs:UpdateService"],
                resources=[service.arn for _, service in engines],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["events:DisableRule", "events:EnableRule"],
                resources=[rule.arn for _, rule in rules],
            )
        )
        acknowledge(
            function,
            {
                "AwsSolutions-L1": f"Python {constants.LAMBDA_PYTHON_VERSION} on purpose, as"
                " every function of the app: the venv and the tests are built for it.",
            },
        )
        acknowledge(
            role,
            {
                "AwsSolutions-IAM5[Resource::*]": "X-Ray PutTraceSegments/PutTelemetryRecords"
                " have no resource-level permissions; the ECS and EventBridge calls name each"
                " service and rule.",
            },
        )
        return function


def gate_reads_replica(
    functions: Functions, table_names: Mapping[str, str], replica_region: str, peer_key: kms.IKey
) -> None:
    """The primary's settlement reads the events table's DR replica before it settles a record
    (``exchange.journal.gate``): Query on that replica, and Decrypt with the DR data key that
    encrypts it, only through DynamoDB in that region."""
    function = functions.functions["settlement"]
    role = function.role
    if role is None:
        raise TypeError("the settlement function has no role")
    replica = Stack.of(function).format_arn(
        service="dynamodb", region=replica_region, resource="table",
        resource_name=table_names["events"],
    )  # fmt: skip
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["dynamodb:Query"], resources=[replica])
    )
    via = {"kms:ViaService": f"dynamodb.{replica_region}.amazonaws.com"}
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt"], resources=[peer_key.key_arn], conditions={"StringEquals": via}
        )
    )
