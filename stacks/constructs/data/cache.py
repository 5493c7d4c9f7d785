"""ElastiCache for Redis: the engine's fast snapshots and the L2 books the API and WebSocket read.

Multi-AZ with automatic failover, TLS in transit and the region's key at rest, in isolated subnets.
"""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks import constants
from stacks.constructs.nag import acknowledge


class BookCache(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        node_type: str,
        key: kms.IKey,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Redis books", allow_all_outbound=False
        )
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description="Isolated subnets of the book cache",
            subnet_ids=vpc.select_subnets(
                subnet_type=subnets.subnet_type or ec2.SubnetType.PRIVATE_ISOLATED
            ).subnet_ids,
        )
        self.group = elasticache.CfnReplicationGroup(
            self,
            "Group",
            replication_group_description="Exchange order books and engine snapshots",
            engine="redis",
            engine_version=constants.REDIS_ENGINE_VERSION,
            cache_node_type=node_type,
            num_node_groups=1,
            replicas_per_node_group=1,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            port=constants.REDIS_PORT,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            snapshot_retention_limit=7,
            auto_minor_version_upgrade=True,
        )
        self.group.apply_removal_policy(RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY)
        acknowledge(
            self.group,
            {
                "AwsSolutions-AEC6": "Access is limited by security group to the engine tasks and"
                " the functions that read books, over TLS; a Redis AUTH token would have to sit"
                " in their environment in clear, which is worse. RBAC/IAM auth is a follow-up.",
            },
        )

    @property
    def url(self) -> str:
        """``rediss://`` (TLS) to the primary endpoint, which follows a failover."""
        return (
            f"rediss://{self.group.attr_primary_end_point_address}"
            f":{self.group.attr_primary_end_point_port}"
        )

    def allow_from(self, peer: ec2.IConnectable) -> None:
        self.security_group.connections.allow_from(
            peer, ec2.Port.tcp(constants.REDIS_PORT), "Redis over TLS"
        )
