"""A region's foundation: its data key, the snapshot, reports and archive buckets.

The other region's resources point at these (the primary's tables, secret and buckets replicate
into the DR region's key and buckets), so both base stacks deploy before either main stack.
"""

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks import constants
from stacks.config import DeploymentConfig, RegionRole
from stacks.constructs.keys import DataKey
from stacks.constructs.snapshots import ArchiveStore, ReportStore, SnapshotStore
from stacks.stack import ExchangeStack


def snapshot_bucket_name(config: DeploymentConfig, stack: Stack) -> str:
    """Globally unique, and known to every stack without a reference."""
    return f"{config.resource_name('snapshots')}-{stack.account}-{stack.region}"


def reports_bucket_name(config: DeploymentConfig, stack: Stack) -> str:
    """Like the snapshot bucket's: globally unique, known without a reference."""
    return f"{config.resource_name('reports')}-{stack.account}-{stack.region}"


def archive_bucket_name(config: DeploymentConfig, stack: Stack) -> str:
    """Like the snapshot bucket's: globally unique, known without a reference."""
    return f"{config.resource_name('archive')}-{stack.account}-{stack.region}"


class RegionalBaseStack(ExchangeStack):
    data_key: kms.IKey
    snapshots: SnapshotStore
    reports: ReportStore
    archive: ArchiveStore

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        role: RegionRole,
        replicate_to: "RegionalBaseStack | None" = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            role=role,
            description=f"{role.value} region foundation: data key, snapshots, reports, archive",
            **kwargs,
        )
        self.data_key = DataKey(
            self,
            "DataKey",
            alias=f"alias/{constants.PROJECT}/{config.environment}/data",
            retain=config.retain_data,
        ).key
        self.snapshots = SnapshotStore(
            self,
            "Snapshots",
            bucket_name=snapshot_bucket_name(config, self),
            key=self.data_key,
            retain=config.retain_data,
            replicate_to=replicate_to.snapshots if replicate_to else None,
        )
        self.reports = ReportStore(
            self,
            "Reports",
            bucket_name=reports_bucket_name(config, self),
            key=self.data_key,
            retain=config.retain_data,
            access_logs=self.snapshots.access_logs,
            replicate_to=replicate_to.reports if replicate_to else None,
        )
        self.archive = ArchiveStore(
            self,
            "Archive",
            bucket_name=archive_bucket_name(config, self),
            key=self.data_key,
            retain=config.retain_data,
            access_logs=self.snapshots.access_logs,
        )
        if replicate_to is not None:
            self.add_stack_dependency(
                replicate_to, "replicates snapshots and reports into its buckets and key"
            )
