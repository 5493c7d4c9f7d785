"""The command broker (Amazon MQ for RabbitMQ) and the journal (a Kinesis stream)."""

from collections.abc import Iterable
from types import MappingProxyType

from aws_cdk import ArnFormat, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_amazonmq as amazonmq
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks import constants
from stacks.config import KinesisMode
from stacks.constructs.nag import acknowledge

# Amazon MQ refuses commas, colons and equals signs in passwords; the rest would break a URL.
BROKER_EXCLUDED_CHARACTERS = " ,:=%+~`#$&*()|[]{}:;<>?!'/@\"\\"
BROKER_VIRTUAL_HOST = "/"  # the queues' (exchange.messaging declares them on the default vhost)


class Broker(Construct):
    """A RabbitMQ cluster in 3 zones (quorum queues need it), reachable only from inside the VPC."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Credentials",
            description=f"Amazon MQ user of {name}",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=f'{{"username": "{constants.BROKER_USER}"}}',
                generate_string_key="password",
                password_length=32,
                exclude_characters=BROKER_EXCLUDED_CHARACTERS,
            ),
        )
        acknowledge(
            self.secret,
            {
                "AwsSolutions-SMG4": "Amazon MQ has no managed rotation: the runbook rotates this"
                " user (update the secret, then the broker user) in a maintenance window.",
            },
        )
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Amazon MQ AMQPS", allow_all_outbound=False
        )
        logs.ResourcePolicy(
            self,
            "LogsPolicy",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("mq.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[
                        Stack.of(self).format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=f"/aws/amazonmq/broker/{name}*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                )
            ],
        )
        self.broker = amazonmq.CfnBroker(
            self,
            "Broker",
            broker_name=name,
            engine_type="RABBITMQ",
            engine_version=constants.BROKER_ENGINE_VERSION,
            host_instance_type=instance_type,
            deployment_mode="CLUSTER_MULTI_AZ",
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            subnet_ids=vpc.select_subnets(
                subnet_type=subnets.subnet_type or ec2.SubnetType.PRIVATE_WITH_EGRESS
            ).subnet_ids,
            security_groups=[self.security_group.security_group_id],
            users=[
                amazonmq.CfnBroker.UserProperty(
                    username=self.secret.secret_value_from_json("username").unsafe_unwrap(),
                    password=self.secret.secret_value_from_json("password").unsafe_unwrap(),
                )
            ],
            logs=amazonmq.CfnBroker.LogListProperty(general=True),
            maintenance_window_start_time=amazonmq.CfnBroker.MaintenanceWindowProperty(
                day_of_week="SUNDAY", time_of_day="04:00", time_zone="UTC"
            ),
        )

    @property
    def endpoint(self) -> str:
        """``amqps://b-....mq.<region>.amazonaws.com:5671``: the cluster's one endpoint."""
        return Fn.select(0, self.broker.attr_amqp_endpoints)

    def allow_from(self, peer: ec2.IConnectable) -> None:
        self.security_group.connections.allow_from(
            peer, ec2.Port.tcp(constants.BROKER_AMQPS_PORT), "AMQPS"
        )

    def allow_event_source_mappings(self) -> None:
        """An Amazon MQ event source mapping's pollers run in the broker's subnets with the
        broker's security group ("Using Lambda with Amazon MQ", network security): AMQPS from and
        to that group, and HTTPS out to Lambda, STS and Secrets Manager. Idempotent."""
        if self.node.try_find_child("EventSourceMappings") is not None:
            return
        Construct(self, "EventSourceMappings")  # marks the rules as added
        amqps = ec2.Port.tcp(constants.BROKER_AMQPS_PORT)
        group = self.security_group
        group.add_ingress_rule(group, amqps, "AMQPS from Lambda's event source mapping pollers")
        group.add_egress_rule(group, amqps, "AMQPS from the pollers to the broker")
        group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "The pollers' calls to Lambda, STS and Secrets"
        )


class Journal(Construct):
    """The engine's event journal: encrypted, replayable for 24 h, on-demand or provisioned."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        mode: KinesisMode,
        shards: int,
        key: kms.IKey,
        enhanced_consumers: Iterable[str],
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        provisioned = mode is KinesisMode.PROVISIONED
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_name=name,
            stream_mode=kinesis.StreamMode.PROVISIONED
            if provisioned
            else kinesis.StreamMode.ON_DEMAND,
            shard_count=shards if provisioned else None,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=key,
            retention_period=Duration.hours(constants.KINESIS_RETENTION_HOURS),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.stream,
            {
                "AwsSolutions-KDS3": "Compliance (PCI/SOX) requires our own rotated key for the"
                " journal rather than aws/kinesis; its extra KMS cost is accepted.",
            },
        )
        self.consumers = MappingProxyType(
            {
                consumer: kinesis.StreamConsumer(
                    self,
                    f"Consumer-{consumer}",
                    stream=self.stream,
                    stream_consumer_name=f"{name}-{consumer}",
                )
                for consumer in sorted(enhanced_consumers)
            }
        )
