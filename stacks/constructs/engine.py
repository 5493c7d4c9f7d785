"""The matching engine on ECS: EC2 hosts pinned to c5.2xlarge behind a capacity provider, and one
service (one task) per shard of the shard map.

A shard's queue has a single active consumer, and a new task recovers from the newest snapshot plus
the journal, so a deployment stops the old task (SIGTERM: drain, ack, snapshot) before it starts the
new one: min 0 % / max 100 % healthy, with the circuit breaker rolling back a task that never turns
healthy.

Each task reads the instruments store at start (``read_instruments_store``): the symbols operators
listed on its shard at run time are traded again after a restart, not only the shard map's. The
cluster has Container Insights (enhanced), whose per-service ``RunningTaskCount`` pages when a
shard's engine is not running (``stacks.constructs.monitoring``).
"""

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, Size
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from exchange.observability import METRICS_NAMESPACE
from exchange.settings import EngineSettings, env_var
from exchange.tables import InstrumentRecord, table_spec
from stacks import constants
from stacks.constructs.data import BookCache
from stacks.constructs.grants import key_statement, table_arns, table_statements
from stacks.constructs.messaging import Broker, Journal
from stacks.constructs.nag import acknowledge, render

HEALTH_PORT: int = EngineSettings.model_fields["health_port"].default
INSTRUMENTS = table_spec(InstrumentRecord)
HEALTH_COMMAND = (
    "import sys, urllib.request; sys.exit(urllib.request.urlopen("
    f"'http://127.0.0.1:{HEALTH_PORT}/health', timeout=2).status != 200)"
)


class Engine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        shards: Mapping[str, Sequence[str]],
        desired_count: int,
        broker: Broker,
        cache: BookCache,
        journal: Journal,
        snapshots: s3.IBucket,
        table_names: Mapping[str, str],
        primary_region: str,
        key: kms.IKey,
        retention: logs.RetentionDays,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.desired_count = desired_count
        self.shards = dict(shards)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENHANCED
        )
        self.capacity = self._capacity(vpc, subnets, hosts=len(shards))
        self.cluster.add_asg_capacity_provider(self.capacity)
        self.security_group = ec2.SecurityGroup(
            self, "TaskSecurityGroup", vpc=vpc, description="Engine tasks"
        )
        broker.allow_from(self.security_group)
        cache.allow_from(self.security_group)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        # The key the engine signs its Redis snapshot with (engine_service.adapters.snapshots): the
        # engine tasks and the reconciliation (which verifies what it reads) alone read it, so
        # nothing else that reaches Redis can forge a book.
        self.snapshot_key = secretsmanager.Secret(
            self,
            "SnapshotKey",
            description=f"HMAC key of the {environment} engine's Redis snapshots (engine and"
            " reconciliation only)",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.snapshot_key,
            {
                "AwsSolutions-SMG4": "Rotating needs no coordination: a snapshot signed with the"
                " old key is refused once and the S3 one loads; the runbook puts a new value.",
            },
        )
        image = ecs.ContainerImage.from_asset(
            str(constants.REPO_ROOT),
            file=constants.ENGINE_DOCKERFILE,
            platform=ecr_assets.Platform.LINUX_AMD64,
            ignore_mode=IgnoreMode.DOCKER,
        )
        common_env = {
            env_var(EngineSettings, "service_name"): "engine",
            env_var(EngineSettings, "environment"): environment,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            env_var(EngineSettings, "broker_endpoint"): broker.endpoint,
            env_var(EngineSettings, "broker_secret_arn"): broker.secret.secret_arn,
            env_var(EngineSettings, "redis_url"): cache.url,
            env_var(EngineSettings, "journal_stream"): journal.stream.stream_name,
            env_var(EngineSettings, "snapshot_bucket"): snapshots.bucket_name,
            env_var(EngineSettings, "snapshot_hmac_secret_arn"): self.snapshot_key.secret_arn,
            env_var(EngineSettings, "health_port"): str(HEALTH_PORT),
            env_var(EngineSettings, "read_instruments_store"): "true",
            env_var(EngineSettings, "instruments_table"): table_names["instruments"],
            # The failover (engine_service.fence): the fence item, the events table promotion
            # rebuilds from, and the cursors it rewinds.
            env_var(EngineSettings, "fence"): "true",
            env_var(EngineSettings, "primary_region"): primary_region,
            env_var(EngineSettings, "failover_table"): table_names["failover"],
            env_var(EngineSettings, "events_table"): table_names["events"],
            env_var(EngineSettings, "cursors_table"): table_names["cursors"],
            env_var(EngineSettings, "audit_table"): table_names["audit"],
        }
        self.services: dict[str, ecs.Ec2Service] = {}
        for shard, symbols in self.shards.items():
            shard_scope = Construct(self, f"Shard-{shard}")
            task = ecs.Ec2TaskDefinition(
                shard_scope,
                "Task",
                family=f"exchange-{environment}-engine-{shard}",
                network_mode=ecs.NetworkMode.AWS_VPC,
            )
            task.add_container(
                "engine",
                image=image,
                cpu=constants.ENGINE_CPU_UNITS,
                memory_limit_mib=constants.ENGINE_MEMORY_MIB,
                environment={
                    **common_env,
                    env_var(EngineSettings, "shard_id"): shard,
                    env_var(EngineSettings, "symbols"): ",".join(symbols),
                },
                # Non-blocking: a slow log delivery must never stall the matching loop.
                logging=ecs.LogDrivers.aws_logs(
                    stream_prefix=shard,
                    log_group=self.log_group,
                    mode=ecs.AwsLogDriverMode.NON_BLOCKING,
                    max_buffer_size=Size.mebibytes(25),
                ),
                health_check=ecs.HealthCheck(
                    command=["CMD", "python", "-c", HEALTH_COMMAND],
                    interval=Duration.seconds(10),
                    timeout=Duration.seconds(3),
                    retries=3,
                    start_period=Duration.seconds(120),  # recovery replays the journal first
                ),
                stop_timeout=Duration.seconds(constants.ENGINE_STOP_TIMEOUT_SECONDS),
                readonly_root_filesystem=True,
                user="10001:10001",
                port_mappings=[ecs.PortMapping(container_port=HEALTH_PORT)],
            )
            self._grant(task.task_role, journal=journal, snapshots=snapshots, key=key)
            for statement in table_statements(
                task,
                logical_name=INSTRUMENTS.logical_name,
                table_name=table_names["instruments"],
                index_names=[index.name for index in INSTRUMENTS.indexes],
                access="read",
            ):
                task.task_role.add_to_principal_policy(statement)
            for statement in failover_statements(task, table_names):
                task.task_role.add_to_principal_policy(statement)
            broker.secret.grant_read(task.task_role)
            self.snapshot_key.grant_read(task.task_role)
            snapshot_objects = render(self, snapshots.arn_for_objects("*"))
            acknowledge(
                task,
                {
                    "AwsSolutions-ECS2": "Only non-secret settings are environment variables;"
                    " the broker password and the snapshot key stay in Secrets Manager (the"
                    " task reads them by ARN).",
                    "AwsSolutions-IAM5[Resource::*]": "ecr:GetAuthorizationToken has no resource"
                    " scope; every other action names the stream, bucket, key or secret.",
                    f"AwsSolutions-IAM5[Resource::{snapshot_objects}]": (
                        "The engine reads and writes snapshot objects of its own bucket, whose"
                        " keys are per shard and per version; nothing outside it."
                    ),
                },
            )
            self.services[shard] = ecs.Ec2Service(
                shard_scope,
                "Service",
                cluster=self.cluster,
                task_definition=task,
                service_name=f"engine-{shard}",
                desired_count=desired_count,
                min_healthy_percent=0,
                max_healthy_percent=100,
                circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
                capacity_provider_strategies=[
                    ecs.CapacityProviderStrategy(
                        capacity_provider=self.capacity.capacity_provider_name, weight=1
                    )
                ],
                placement_constraints=[ecs.PlacementConstraint.distinct_instances()],
                security_groups=[self.security_group],
                vpc_subnets=subnets,
                enable_ecs_managed_tags=True,
                propagate_tags=ecs.PropagatedTagSource.SERVICE,
            )

    @staticmethod
    def _grant(role: iam.IRole, *, journal: Journal, snapshots: s3.IBucket, key: kms.IKey) -> None:
        """What the runtime calls: PutRecords and the recovery reads on the journal, Get/Put of its
        snapshot objects (List so a missing snapshot is a 404, not a 403), and the data key."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                    "kinesis:PutRecord",
                    "kinesis:PutRecords",
                ],
                resources=[journal.stream.stream_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[snapshots.arn_for_objects("*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[snapshots.bucket_arn])
        )
        role.add_to_principal_policy(key_statement(key.key_arn, write=True))

    def _capacity(
        self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection, *, hosts: int
    ) -> ecs.AsgCapacityProvider:
        role = iam.Role(
            self,
            "HostRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Engine hosts: ECS agent and SSM Session Manager (no SSH)",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
        )
        template = ec2.LaunchTemplate(
            self,
            "HostTemplate",
            instance_type=ec2.InstanceType(constants.ENGINE_INSTANCE_TYPE),
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(),
            require_imdsv2=True,
            # Tasks (awsvpc) cannot reach the host's metadata and so its role.
            http_put_response_hop_limit=1,
            role=role,
            security_group=ec2.SecurityGroup(
                self, "HostSecurityGroup", vpc=vpc, description="Engine hosts (no inbound)"
            ),
            user_data=ec2.UserData.for_linux(),
            detailed_monitoring=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        30, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        group = autoscaling.AutoScalingGroup(
            self,
            "Hosts",
            vpc=vpc,
            vpc_subnets=subnets,
            launch_template=template,
            min_capacity=0,
            max_capacity=max(hosts, 1),
            new_instances_protected_from_scale_in=True,
        )
        acknowledge(
            role,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "AmazonSSMManagedInstanceCore]": "Session Manager is the only way onto the hosts"
                " (no SSH key, no inbound rule); this is its AWS-maintained minimum.",
                "AwsSolutions-IAM5[Action::ecs:Submit*]": "The ECS agent's own grant from the"
                " capacity provider: it reports state changes for this cluster's tasks.",
                "AwsSolutions-IAM5[Resource::*]": "ecs:DiscoverPollEndpoint and"
                " ecr:GetAuthorizationToken (ECS agent) have no resource-level permissions.",
            },
        )
        acknowledge(
            group,
            {
                "AwsSolutions-AS3": "ECS managed scaling owns the group's size; scaling and"
                " placement problems surface as ECS service events and the engine alarms.",
            },
        )
        return ecs.AsgCapacityProvider(
            self,
            "Capacity",
            auto_scaling_group=group,
            enable_managed_scaling=True,
            enable_managed_termination_protection=True,
            enable_managed_draining=True,
            target_capacity_percent=100,
        )


def failover_statements(
    scope: IConstruct, table_names: Mapping[str, str]
) -> list[iam.PolicyStatement]:
    """What the fence and promotion read and write (``engine_service.adapters.dynamo``): the
    fence item (GetItem), the events table (Query: the replicated journal), the cursors (Scan,
    then a conditional UpdateItem of each one past the rebuilt seq) and the audit log (its head);
    in both the events table and the audit log, the rows past the rebuilt seq are moved to their
    ``#superseded`` partition (PutItem, DeleteItem)."""
    names = ("failover", "events", "cursors", "audit")
    failover, events, cursors, audit = (table_arns(scope, table_names[n], [])[0] for n in names)
    return [
        iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[failover]),
        iam.PolicyStatement(actions=["dynamodb:Scan", "dynamodb:UpdateItem"], resources=[cursors]),
        iam.PolicyStatement(
            actions=["dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"],
            resources=[events, audit],
        ),
    ]
