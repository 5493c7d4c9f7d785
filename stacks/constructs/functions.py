"""Every Lambda of ``lambdas.catalog.FUNCTIONS``, built by one factory.

Each function gets its own role with exactly its tables (read or read/write), the secrets, keys,
queues and network paths its ``needs`` name, its log group, and its trigger's event source
(``stacks.constructs.event_sources``): a Kinesis event source mapping on the journal, an EventBridge
schedule, an Amazon MQ event source mapping on each shard's dead-letter queue, or an SQS one on the
queue the function names (the timers, the payouts, the notices to email); in the primary, the
user pool's post-confirmation trigger and a run on every deploy (a CDK trigger) for the migration
runner. The archive's transform has no event source: Firehose invokes it with its own role. REST
and WebSocket routes (and the REST and WebSocket authorizers) are attached by the API construct,
which owns the APIs.

Ledger functions reach Aurora only through the region's RDS Proxy, each as its own database role
with IAM authentication (``rds-db:connect`` for exactly that user on that proxy); only the
migration runner reads the admin secret and reaches the cluster itself.

A function that reads the engine's snapshots (``Need.ENGINE_SNAPSHOTS``: the reconciliation) gets
what the engine stores them in: the snapshot bucket (read), Redis (its security group) and the
HMAC secret that signs them; one that writes reports (``Need.REPORTS_BUCKET``) may put objects
under ``reconciliation/`` of the reports bucket only.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, Stack, triggers
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from exchange.settings import cognito_issuer, database_role, jwks_url_of
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS, FunctionSpec, Need, Trigger
from lambdas.environment import function_environment
from stacks import constants
from stacks.constructs.data import BookCache, LedgerDatabase
from stacks.constructs.data.ledger_db import DATABASE_PORT
from stacks.constructs.event_sources import (
    consume_dead_letters,
    consume_queue,
    run_every,
    subscribe_to_journal,
)
from stacks.constructs.grants import (
    REPORTS_PREFIX,
    api_key_statement,
    key_statement,
    report_write_statements,
    secrets_key_statement,
    snapshot_read_statements,
    table_statements,
)
from stacks.constructs.lifecycle import confirm_sign_ups, run_on_deploy
from stacks.constructs.messaging import Broker, Journal
from stacks.constructs.nag import acknowledge, render
from stacks.constructs.needs import MONEY_NEEDS, MoneyDeps, wire_money_need

_VPC_NEEDS = frozenset(
    {Need.BROKER, Need.LEDGER, Need.LEDGER_ADMIN, Need.REDIS, Need.ENGINE_SNAPSHOTS}
)
# Needs that read Secrets Manager secrets (a ledger function signs in with IAM, reading none).
_SECRET_NEEDS = frozenset(
    {
        Need.BROKER,
        Need.LEDGER_ADMIN,
        Need.WEBHOOK_SECRET,
        Need.KYC_WEBHOOK_SECRET,
        Need.ENGINE_SNAPSHOTS,
        Need.PAYOUT_PROVIDER,
    }
)
# What Lambda does with a function's role in a VPC: its ENIs (AWSLambdaVPCAccessExecutionRole's
# actions; CDK attaches that policy only to roles it makes itself).
_ENI_ACTIONS = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:UnassignPrivateIpAddresses",
)
_INDEXES = {spec.logical_name: [index.name for index in spec.indexes] for spec in TABLE_SPECS}


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionDeps:
    """Everything a function may be wired to; each spec takes only what it names."""

    environment: str
    region_key: kms.IKey
    layer: lambda_.ILayerVersion
    retention: logs.RetentionDays
    retain: bool
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    tables: Mapping[str, dynamodb.ITableV2]  # the tables this region creates (primary only)
    table_names: Mapping[str, str]
    broker: Broker
    ledger: LedgerDatabase
    cache: BookCache
    journal: Journal
    websocket_stage: apigwv2.WebSocketStage
    webhook_secret: secretsmanager.ISecret
    kyc_webhook_secret: secretsmanager.ISecret
    user_pool: cognito.IUserPool
    user_pool_client: cognito.IUserPoolClient
    user_pool_region: str
    shards: Sequence[str]  # each has a dead-letter queue for the AMAZON_MQ functions
    api_key_key_arn: str  # the (multi-Region) key of API keys' secrets in this region
    timer_queue: sqs.IQueue  # the dead man's switch's timers (Need.CANCEL_AFTER_QUEUE)
    queues: Mapping[str, sqs.IQueue]  # each SQS function's queue, by ``FunctionSpec.queue``
    money: MoneyDeps  # money out and notifications (``stacks.constructs.needs``)
    snapshots: s3.IBucket  # the engine's snapshots, in this region
    snapshot_key: secretsmanager.ISecret  # the HMAC key of the engine's Redis snapshots
    reports: s3.IBucket  # the reconciliation's reports, in this region
    # Schedules run in the primary (failover enables the DR region's); the Cognito trigger and
    # the deploy-time migration are wired only there (the pool and the writable cluster).
    primary: bool
    replica_region: str | None = None  # where the primary's settlement gate reads (journal.gate)


class Functions(Construct):
    """``functions[name]`` for every catalog entry."""

    def __init__(self, scope: Construct, construct_id: str, *, deps: FunctionDeps) -> None:
        super().__init__(scope, construct_id)
        self._deps = deps
        self._code = lambda_.Code.from_asset(
            str(constants.REPO_ROOT),
            ignore_mode=IgnoreMode.DOCKER,
            exclude=list(constants.LAMBDA_CODE_EXCLUDE),
        )
        self.failure_queues: dict[str, sqs.Queue] = {}
        self.deploy_triggers: dict[str, triggers.Trigger] = {}
        self.schedules: dict[str, events.Rule] = {}  # each scheduled function's rule
        self.functions: Mapping[str, lambda_.Function] = MappingProxyType(
            {name: self._build(spec) for name, spec in FUNCTIONS.items()}
        )
        # Schema first, then code: a ledger function's new version deploys after the migrations
        # (and the roles' logins) it may rely on.
        ledger = [self.functions[s.name] for s in FUNCTIONS.values() if Need.LEDGER in s.needs]
        for trigger in self.deploy_triggers.values():
            trigger.execute_before(*ledger)

    def _build(self, spec: FunctionSpec) -> lambda_.Function:
        deps = self._deps
        scope = Construct(self, spec.name.title().replace("_", ""))
        removal = RemovalPolicy.RETAIN if deps.retain else RemovalPolicy.DESTROY
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Least privilege for the {spec.name} function",
        )
        log_group = logs.LogGroup(
            scope,
            "Logs",
            retention=deps.retention,
            encryption_key=deps.region_key,
            removal_policy=removal,
        )
        in_vpc = bool(spec.needs & _VPC_NEEDS)
        function = lambda_.Function(
            scope,
            "Function",
            function_name=f"exchange-{deps.environment}-{spec.name}",
            description=spec.description,
            code=self._code,
            handler=spec.handler,
            runtime=constants.LAMBDA_RUNTIME,
            architecture=constants.LAMBDA_ARCHITECTURE,
            memory_size=constants.LAMBDA_MEMORY_MB,
            timeout=Duration.seconds(spec.timeout_seconds),
            layers=[deps.layer],
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment=self._environment(spec),
            environment_encryption=deps.region_key,
            vpc=deps.vpc if in_vpc else None,
            vpc_subnets=deps.subnets if in_vpc else None,
        )
        acknowledge(
            function,
            {
                "AwsSolutions-L1": f"Python {constants.LAMBDA_PYTHON_VERSION} on purpose: the"
                " venv, the tests and the layer's wheels are built for it; newer runtimes follow.",
            },
        )
        log_group.grant_write(role)
        self._grant_tables(spec, function, role, scope)
        if in_vpc:
            role.add_to_policy(iam.PolicyStatement(actions=list(_ENI_ACTIONS), resources=["*"]))
        for need in sorted(spec.needs):
            self._wire_need(need, spec, function)
        if spec.needs & _SECRET_NEEDS:
            # The secrets are encrypted with the region's key, imported by ARN: the CDK's grants
            # cannot add to its key policy, so the role itself may decrypt, through Secrets
            # Manager only.
            role.add_to_policy(
                secrets_key_statement(deps.region_key.key_arn, Stack.of(self).region)
            )
        match spec.trigger:
            case Trigger.KINESIS:
                self.failure_queues[spec.name] = subscribe_to_journal(
                    scope,
                    spec.name,
                    function,
                    journal=deps.journal,
                    key=deps.region_key,
                    retain=deps.retain,
                )
            case Trigger.SCHEDULE:
                self.schedules[spec.name] = run_every(scope, spec, function, enabled=deps.primary)
            case Trigger.AMAZON_MQ:
                consume_dead_letters(scope, function, role, broker=deps.broker, shards=deps.shards)
            case Trigger.SQS if spec.queue is not None:
                consume_queue(
                    function,
                    deps.queues[spec.queue],
                    spec.queue,
                    reserved=spec.reserved_concurrency,
                )
            case Trigger.SQS:
                raise ValueError(f"{spec.name} is an SQS function but names no queue")
            case Trigger.COGNITO_POST_CONFIRMATION if deps.primary:
                confirm_sign_ups(deps.user_pool, function)
            case Trigger.DEPLOY if deps.primary:
                self.deploy_triggers[spec.name] = run_on_deploy(
                    scope, function, timeout_seconds=spec.timeout_seconds, ledger=deps.ledger
                )
        self._acknowledge(spec, role)
        return function

    def _grant_tables(
        self, spec: FunctionSpec, function: lambda_.Function, role: iam.Role, scope: Construct
    ) -> None:
        """The catalog's tables at the catalog's access, and their key."""
        deps = self._deps
        for logical, access in spec.tables.items():
            for statement in table_statements(
                scope,
                logical_name=logical,
                table_name=deps.table_names[logical],
                index_names=_INDEXES[logical],
                access=access,
            ):
                role.add_to_policy(statement)
            table = deps.tables.get(logical)
            if table is not None:  # the primary creates it: deploy the function after it
                function.node.add_dependency(table)
        if spec.tables:
            writes = "write" in spec.tables.values()
            role.add_to_policy(key_statement(deps.region_key.key_arn, write=writes))

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The function's environment (``lambdas.environment``), from every value this region
        has; each function gets the ones its model reads and its catalog entry allows."""
        deps = self._deps
        issuer = cognito_issuer(deps.user_pool_region, deps.user_pool.user_pool_id)
        values = {
            "environment": deps.environment,
            "log_level": "INFO",
            "broker_endpoint": deps.broker.endpoint,
            "broker_secret_arn": deps.broker.secret.secret_arn,
            # Ledger functions: RDS Proxy, as their own role (``function_environment`` names it).
            "database_host": deps.ledger.proxy.endpoint,
            "database_port": str(DATABASE_PORT),
            "database_name": constants.DATABASE_NAME,
            # The migration runner: the admin secret, and each role's secret to set its login.
            "database_secret_arn": deps.ledger.secret.secret_arn,
            "database_role_secret_arns": Stack.of(self).to_json_string(
                {role: secret.secret_arn for role, secret in deps.ledger.role_secrets.items()}
            ),
            "redis_url": deps.cache.url,
            "ws_management_endpoint": deps.websocket_stage.callback_url,
            "ledger_webhook_secret_arn": deps.webhook_secret.secret_arn,
            "kyc_webhook_secret_arn": deps.kyc_webhook_secret.secret_arn,
            "user_pool_id": deps.user_pool.user_pool_id,
            "user_pool_region": deps.user_pool_region,
            "app_client_id": deps.user_pool_client.user_pool_client_id,
            "issuer": issuer,
            "jwks_url": jwks_url_of(issuer),
            "api_key_kms_key_id": deps.api_key_key_arn,
            "cancel_after_queue_url": deps.timer_queue.queue_url,
            "snapshot_bucket": deps.snapshots.bucket_name,
            "snapshot_hmac_secret_arn": deps.snapshot_key.secret_arn,
            "reports_bucket": deps.reports.bucket_name,
            **{table.settings_field: deps.table_names[table.logical_name] for table in TABLE_SPECS},
            **deps.money.values(),
            **({"settle_after_replica_region": r} if (r := deps.replica_region) else {}),
        }
        return function_environment(spec, values)

    def _wire_need(self, need: Need, spec: FunctionSpec, function: lambda_.Function) -> None:  # noqa: PLR0912 - one case per need
        deps = self._deps
        role = function.role
        if role is None:
            raise TypeError(f"{function.node.path} has no role")
        if need in MONEY_NEEDS:
            key = deps.region_key.key_arn
            wire_money_need(need, function, deps.money, key_arn=key, scope=self)
            return
        match need:
            case Need.BROKER:
                deps.broker.secret.grant_read(role)
                deps.broker.allow_from(function)
            case Need.LEDGER:
                deps.ledger.grant_proxy_connect(role, function, database_role(spec.name))
            case Need.LEDGER_ADMIN:
                deps.ledger.grant_admin(role, function)
            case Need.REDIS:
                deps.cache.allow_from(function)
            case Need.WS_MANAGEMENT:
                deps.websocket_stage.grant_management_api_access(role)
            case Need.WEBHOOK_SECRET:
                deps.webhook_secret.grant_read(role)
            case Need.KYC_WEBHOOK_SECRET:
                deps.kyc_webhook_secret.grant_read(role)
            case Need.JWKS:
                pass  # the JWKS is public; the environment names it
            case Need.API_KEY_ENCRYPT:
                function.add_to_role_policy(api_key_statement(deps.api_key_key_arn, "kms:Encrypt"))
            case Need.API_KEY_DECRYPT:
                function.add_to_role_policy(api_key_statement(deps.api_key_key_arn, "kms:Decrypt"))
            case Need.CANCEL_AFTER_QUEUE:
                # SendMessage to a queue under a customer managed key: the sender's role also
                # generates and decrypts the queue's data keys ("Amazon SQS key management").
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["sqs:SendMessage"], resources=[deps.timer_queue.queue_arn]
                    )
                )
                function.add_to_role_policy(key_statement(deps.region_key.key_arn, write=True))
            case Need.ENGINE_SNAPSHOTS:
                for statement in snapshot_read_statements(deps.snapshots, deps.region_key.key_arn):
                    function.add_to_role_policy(statement)
                deps.snapshot_key.grant_read(role)
                deps.cache.allow_from(function)
            case Need.REPORTS_BUCKET:
                for statement in report_write_statements(deps.reports, deps.region_key.key_arn):
                    function.add_to_role_policy(statement)

    def _acknowledge(self, spec: FunctionSpec, role: iam.Role) -> None:
        deps = self._deps
        reasons = {
            "AwsSolutions-IAM5[Resource::*]": "X-Ray PutTraceSegments/PutTelemetryRecords, the"
            " VPC ENI actions and the EC2 Describe* calls of an Amazon MQ event source mapping"
            " have no resource-level permissions; nothing else is '*'.",
        }
        if (
            spec.trigger in {Trigger.KINESIS, Trigger.SQS}
            or Need.BROKER in spec.needs
            or spec.tables
        ):
            for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
                reasons[f"AwsSolutions-IAM5[Action::{action}]"] = (
                    "The CDK's grants for the KMS-encrypted stream and queues name the"
                    " data-key family on this region's one data key, not on any other key."
                )
        if Need.WS_MANAGEMENT in spec.needs:
            stage = deps.websocket_stage
            connections = Stack.of(self).format_arn(
                service="execute-api",
                resource=stage.api.api_id,
                resource_name=f"{stage.stage_name}/*/@connections/*",
            )
            resource = render(self, connections)
            reasons[f"AwsSolutions-IAM5[Resource::{resource}]"] = (
                "Connection ids are made at connect time, so ManageConnections names this"
                " API's stage and any connection on it, nothing wider."
            )
        buckets = {
            Need.ENGINE_SNAPSHOTS: (
                deps.snapshots.arn_for_objects("*"),
                "It reads the engine's snapshots, one object (or more, versioned) per shard, of"
                " this region's snapshot bucket only.",
            ),
            Need.REPORTS_BUCKET: (
                deps.reports.arn_for_objects(f"{REPORTS_PREFIX}*"),
                "It writes one dated report per run under reconciliation/ of this region's"
                " reports bucket, and nothing else of it.",
            ),
        }
        for need, (objects, reason) in buckets.items():
            if need in spec.needs:
                reasons[f"AwsSolutions-IAM5[Resource::{render(self, objects)}]"] = reason
        acknowledge(role, reasons)
