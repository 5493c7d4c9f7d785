"""One region's share of the exchange. The same stack class serves the primary and the DR region;
it only puts the capability constructs together."""

from typing import Any

from aws_cdk import CfnOutput
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from exchange.messaging import ShardMap
from exchange.settings import database_role
from lambdas.catalog import FUNCTIONS, Need, Trigger
from stacks import constants
from stacks.base_stack import RegionalBaseStack
from stacks.config import DeploymentConfig, RegionRole
from stacks.constructs.api import Api
from stacks.constructs.archive import Archive
from stacks.constructs.auth import Auth
from stacks.constructs.console import Console
from stacks.constructs.data import Data
from stacks.constructs.dns import ApiFailoverRecord
from stacks.constructs.engine import Engine
from stacks.constructs.failover import dr_automation, gate_reads_replica
from stacks.constructs.functions import FunctionDeps, Functions
from stacks.constructs.keys import ApiKeySecretsKey
from stacks.constructs.messaging import Broker, Journal
from stacks.constructs.monitoring import Monitoring, MonitoringProps
from stacks.constructs.nag import acknowledge
from stacks.constructs.needs import MoneyDeps
from stacks.constructs.network import Network
from stacks.constructs.notices import Email, NotificationsTopic
from stacks.constructs.secrets import ReplicatedSecret
from stacks.constructs.shared_layer import SharedLayer
from stacks.constructs.timers import TimerQueue
from stacks.constructs.work_queues import WorkQueue
from stacks.stack import ExchangeStack

# Each ledger function's own database role, which it signs in to RDS Proxy as.
LEDGER_ROLES = tuple(
    sorted(database_role(spec.name) for spec in FUNCTIONS.values() if Need.LEDGER in spec.needs)
)


def _only(trigger: Trigger) -> str:
    """The one catalog function with ``trigger``."""
    (name,) = [spec.name for spec in FUNCTIONS.values() if spec.trigger is trigger]
    return name


def _consumer_timeout(queue: str) -> int:
    """The longest timeout of the functions reading ``queue`` (its visibility timeout's base)."""
    return max(spec.timeout_seconds for spec in FUNCTIONS.values() if spec.queue == queue)


def _named(name: str, trigger: Trigger) -> str:
    """``name``, checked to be a catalog function with ``trigger`` (several functions are
    scheduled, so the monitoring names the one whose metrics it reads)."""
    if FUNCTIONS[name].trigger is not trigger:
        raise ValueError(f"{name} is a {FUNCTIONS[name].trigger} function, not {trigger}")
    return name


class RegionalStack(ExchangeStack):
    data: Data
    api_key_key: ApiKeySecretsKey

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        role: RegionRole,
        base: RegionalBaseStack,
        peer_base: RegionalBaseStack | None = None,
        primary: "RegionalStack | None" = None,
        **kwargs: Any,
    ) -> None:
        """The primary gets ``peer_base`` (the DR region's key, for its replicas); the DR region
        gets ``primary`` (the user pool, and the order: it deploys after the primary)."""
        super().__init__(
            scope,
            construct_id,
            config=config,
            role=role,
            description=f"{role.value} region",
            **kwargs,
        )
        is_primary = role is RegionRole.PRIMARY
        # Imported by ARN: grants then go into this stack's role policies (the key policy trusts
        # the account), never back into the base stack, which would make the stacks a cycle.
        key = kms.Key.from_key_arn(self, "DataKey", base.data_key.key_arn)
        peer_key = (
            kms.Key.from_key_arn(self, "PeerDataKey", peer_base.data_key.key_arn)
            if peer_base
            else None
        )
        snapshots = s3.Bucket.from_bucket_attributes(
            self, "Snapshots", bucket_name=base.snapshots.bucket_name, encryption_key=key
        )
        reports = s3.Bucket.from_bucket_attributes(
            self, "Reports", bucket_name=base.reports.bucket_name, encryption_key=key
        )
        replica_region = config.peer_region(role) if is_primary else None
        retain, retention = config.retain_data, config.retention

        self.network = Network(
            self,
            "Network",
            nat_gateways=config.nat_gateways,
            key=key,
            retention=retention,
            retain=retain,
        )
        self.shared_layer = SharedLayer(self, "SharedLayer", environment=config.environment)
        if is_primary:
            auth = Auth(self, "Auth", retain=retain)
            self.user_pool: cognito.IUserPool = auth.user_pool
            self.user_pool_client: cognito.IUserPoolClient = auth.client
        else:
            if primary is None:
                raise ValueError("the DR stack needs the primary stack (its user pool)")
            # Accounts are Cognito subs, so both regions trust the primary's one pool.
            self.user_pool, self.user_pool_client = primary.user_pool, primary.user_pool_client
            self.add_stack_dependency(
                primary, "Aurora secondary joins the primary's global cluster"
            )
        self.data = Data(
            self,
            "Data",
            config=config,
            role=role,
            network=self.network,
            key=key,
            peer_key=peer_key,
            ledger_roles=LEDGER_ROLES,
            ledger_role_secret_arns=primary.data.ledger.replica_role_secret_arns
            if primary
            else None,
        )
        self.broker = Broker(
            self,
            "Broker",
            name=config.resource_name("broker"),
            vpc=self.network.vpc,
            subnets=self.network.private,
            instance_type=config.broker_instance_type,
            key=key,
        )
        self.journal = Journal(
            self,
            "Journal",
            name=config.resource_name("events"),
            mode=config.kinesis_mode,
            shards=config.kinesis_shards,
            key=key,
            enhanced_consumers=constants.ENHANCED_FAN_OUT_CONSUMERS,
            retain=retain,
        )

        def webhook_secret(
            construct_id: str, purpose: str, description: str, rotation: str
        ) -> ReplicatedSecret:
            """A partner's HMAC key for its signed webhooks, replicated like the other secrets."""
            secret = ReplicatedSecret(
                self,
                construct_id,
                name=config.resource_name(purpose, "webhook"),
                description=description,
                key=key,
                replica_region=replica_region,
                replica_key=peer_key,
                retain=retain,
            )
            acknowledge(secret, {"AwsSolutions-SMG4": rotation})
            return secret

        webhook = webhook_secret(
            "DepositWebhookSecret",
            "deposits",
            "HMAC key shared with the custodian for deposit webhooks",
            "Rotated together with the custodian (both sides must change it); the verifier accepts"
            " several secrets during the overlap.",
        )
        kyc_webhook = webhook_secret(
            "KycWebhookSecret",
            "kyc",
            "HMAC key shared with the KYC provider for verification webhooks",
            "Rotated together with the KYC provider (both sides must change it), like the"
            " custodian's deposit webhook key.",
        )
        # The primary key in the primary region; in the DR region its replica, so the DR
        # authorizers decrypt the global api_keys table's ciphertexts (the DR stack deploys after
        # the primary, which it reads the key's ARN from).
        self.api_key_key = ApiKeySecretsKey(
            self,
            "ApiKeySecretsKey",
            alias=f"alias/{constants.PROJECT}/{config.environment}/api-keys",
            retain=retain,
            primary_key_arn=primary.api_key_key.key_arn if primary else None,
        )
        timers = TimerQueue(
            self,
            "CancelAfterTimers",
            key=key,
            consumer_timeout_seconds=_consumer_timeout("cancel-after"),
            retain=retain,
        )
        payouts, notifications, email, provider_secret = self._money_out(
            config, role, key=key, peer_key=peer_key, replica_region=replica_region
        )
        self.api = Api(self, "Api", config=config, user_pool=self.user_pool, key=key)
        shards = ShardMap.demo().shards
        # Before the functions: the reconciliation reads the key the engine signs snapshots with.
        self.engine = Engine(
            self,
            "Engine",
            environment=config.environment,
            vpc=self.network.vpc,
            subnets=self.network.private,
            shards=shards,
            desired_count=1 if is_primary else config.dr_engine_desired_count,
            broker=self.broker,
            cache=self.data.cache,
            journal=self.journal,
            snapshots=snapshots,
            table_names=self.data.table_names,
            primary_region=config.primary_region,
            key=key,
            retention=retention,
            retain=retain,
        )
        instruments = self.data.tables.get("instruments")
        if instruments is not None:  # the primary creates it: a task reads it as it starts
            for service in self.engine.services.values():
                service.node.add_dependency(instruments)
        self.functions = Functions(
            self,
            "Functions",
            deps=FunctionDeps(
                environment=config.environment,
                region_key=key,
                layer=self.shared_layer.layer,
                retention=retention,
                retain=retain,
                vpc=self.network.vpc,
                subnets=self.network.private,
                tables=self.data.tables,
                table_names=self.data.table_names,
                broker=self.broker,
                ledger=self.data.ledger,
                cache=self.data.cache,
                journal=self.journal,
                websocket_stage=self.api.websocket.stage,
                webhook_secret=webhook.secret,
                kyc_webhook_secret=kyc_webhook.secret,
                user_pool=self.user_pool,
                user_pool_client=self.user_pool_client,
                user_pool_region=config.primary_region,
                shards=sorted(shards),
                api_key_key_arn=self.api_key_key.key_arn,
                timer_queue=timers.queue,
                queues={
                    "cancel-after": timers.queue,
                    "payouts": payouts.queue,
                    "notifications": notifications.queue.queue,
                },
                money=MoneyDeps(
                    payout_queue=payouts.queue,
                    payout_provider_secret=provider_secret.secret,
                    payout_provider_url=config.payout_provider_url,
                    notifications_topic=notifications.topic,
                    email=email,
                    email_sender=config.sender,
                    user_pool_arn=self.user_pool.user_pool_arn,
                ),
                snapshots=snapshots,
                snapshot_key=self.engine.snapshot_key,
                reports=reports,
                primary=is_primary,
                replica_region=replica_region,
            ),
        )
        if replica_region is not None and peer_key is not None:
            gate_reads_replica(self.functions, self.data.table_names, replica_region, peer_key)
        self.api.route(self.functions.functions)
        self.archive = Archive(
            self,
            "Archive",
            name=config.resource_name(),
            bucket_name=base.archive.bucket_name,
            stream_arn=self.journal.stream.stream_arn,
            transform=self.functions.functions[_only(Trigger.FIREHOSE_TRANSFORM)],
            key_arn=base.data_key.key_arn,
            retention=retention,
            retain=retain,
        )
        # The DR region's failover and failback state machines (the primary's half is its DNS).
        self.failover = (
            dr_automation(self, self, primary, config=config, key=key) if primary else None
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            key=key,
            subscribers=config.alarm_subscribers,
            props=MonitoringProps(
                name=config.resource_name(role.value),
                dashboard_name=config.resource_name(role.value, "operations"),
                rest_stage=self.api.rest.stage,
                functions=self.functions.functions,
                consumers=[s.name for s in FUNCTIONS.values() if s.trigger is Trigger.KINESIS],
                dead_letter_consumer=_only(Trigger.AMAZON_MQ),
                reconciler=_named("reconciler", Trigger.SCHEDULE),
                reconciliation=_named("reconciliation", Trigger.SCHEDULE),
                dividends=_named("dividends", Trigger.SCHEDULE),
                schedules={
                    s.name: s.every_minutes
                    for s in FUNCTIONS.values()
                    if s.trigger is Trigger.SCHEDULE and s.every_minutes is not None
                },
                failure_queues=self.functions.failure_queues,
                timer_queue=timers.queue,
                timer_dead_letters=timers.dead_letters,
                dead_letters={
                    "payouts": payouts.dead_letters,
                    "notifications": notifications.queue.dead_letters,
                },
                payout_sweeper=_named("payout_sweeper", Trigger.SCHEDULE),
                paging_errors=[_named("payouts", Trigger.SQS), _named("emailer", Trigger.SQS)],
                delivery_stream=str(self.archive.delivery_stream.delivery_stream_name),
                shards=sorted(shards),
                broker_name=config.resource_name("broker"),
                tables=self.data.table_names,
                ledger=self.data.ledger.cluster,
                engine=self.engine,
                state_machines=self.failover.state_machines if self.failover else {},
            ),
        )
        self.dns = ApiFailoverRecord.configured(self, "Dns", config=config, api=self.api.rest.api)
        Console(self, "Console", config=config, api=self.api, client=self.user_pool_client, key=key)
        CfnOutput(self, "SharedLayerArn", value=self.shared_layer.layer.layer_version_arn)
        CfnOutput(self, "RestApiUrl", value=self.api.rest.api.url)
        CfnOutput(self, "WebSocketUrl", value=self.api.websocket.stage.url)

    def _money_out(
        self,
        config: DeploymentConfig,
        role: RegionRole,
        *,
        key: kms.IKey,
        peer_key: kms.IKey | None,
        replica_region: str | None,
    ) -> tuple[WorkQueue, NotificationsTopic, Email, ReplicatedSecret]:
        """The payout queue, the notifications topic and queue, SES, and the payment provider's
        API secret (signs our payout requests; replicated like the webhooks' secrets)."""
        retain = config.retain_data
        payouts = WorkQueue(
            self,
            "Payouts",
            purpose="the payouts to send",
            key=key,
            consumer_timeout_seconds=_consumer_timeout("payouts"),
            retain=retain,
        )
        notifications = NotificationsTopic(
            self,
            "Notifications",
            name=config.resource_name(role.value),
            key=key,
            consumer_timeout_seconds=_consumer_timeout("notifications"),
            retain=retain,
        )
        email = Email(
            self,
            "Email",
            domain=config.email_domain,
            configuration_set_name=config.resource_name("notices"),
        )
        provider_secret = ReplicatedSecret(
            self,
            "PayoutProviderSecret",
            name=config.resource_name("payouts", "provider"),
            description="The payment provider's API secret: signs payout requests",
            key=key,
            replica_region=replica_region,
            replica_key=peer_key,
            retain=retain,
        )
        acknowledge(
            provider_secret,
            {
                "AwsSolutions-SMG4": "Rotated together with the payment provider (both sides"
                " must change it); the operator stores the provider's value in it.",
            },
        )
        return payouts, notifications, email, provider_secret
