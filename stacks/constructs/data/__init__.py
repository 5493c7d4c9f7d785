"""The data capability: DynamoDB global tables, the Aurora ledger and the Redis book cache.

(The snapshot bucket is in the region's base stack, because the other region replicates into it.)
"""

from collections.abc import Mapping, Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from exchange.tables import TABLE_SPECS
from stacks.config import DeploymentConfig, RegionRole
from stacks.constructs.data.cache import BookCache
from stacks.constructs.data.ledger_db import LedgerDatabase
from stacks.constructs.data.tables import GlobalTables
from stacks.constructs.network import Network

__all__ = ["BookCache", "Data", "GlobalTables", "LedgerDatabase"]


class Data(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        role: RegionRole,
        network: Network,
        key: kms.IKey,
        peer_key: kms.IKey | None,
        ledger_roles: Sequence[str],
        ledger_role_secret_arns: Mapping[str, str] | None = None,
    ) -> None:
        """``peer_key`` is the DR region's key, given to the primary (which owns the replicas).
        ``ledger_roles`` are the functions' database roles, each with its own secret for RDS Proxy;
        the DR region gets the ARNs of their replicas (``ledger_role_secret_arns``)."""
        super().__init__(scope, construct_id)
        primary = role is RegionRole.PRIMARY
        replica_region = config.peer_region(role) if primary else None
        self.table_names = {
            spec.logical_name: config.resource_name(spec.logical_name) for spec in TABLE_SPECS
        }
        # The primary creates the global tables; the DR region's replicas come with them.
        self.tables: Mapping[str, dynamodb.ITableV2] = {}
        if replica_region is not None:
            if peer_key is None:
                raise ValueError("the primary needs the DR region's key for the table replicas")
            self.tables = GlobalTables(
                self,
                "Tables",
                names=self.table_names,
                key=key,
                replica_region=replica_region,
                replica_key=peer_key,
                retain=config.retain_data,
            ).tables
        self.ledger = LedgerDatabase(
            self,
            "Ledger",
            vpc=network.vpc,
            subnets=network.isolated,
            proxy_subnets=network.private,
            rotation_subnets=network.private,
            key=key,
            instance_class=config.aurora_instance_class,
            global_cluster_id=config.resource_name("ledger"),
            secret_name=f"{config.resource_name('ledger')}/admin",
            roles=ledger_roles,
            role_secret_prefix=f"{config.resource_name('ledger')}/roles",
            replica_region=replica_region,
            replica_key=peer_key,
            role_secret_arns=ledger_role_secret_arns,
            retain=config.retain_data,
        )
        self.cache = BookCache(
            self,
            "Cache",
            vpc=network.vpc,
            subnets=network.isolated,
            node_type=config.cache_node_type,
            key=key,
            retain=config.retain_data,
        )
