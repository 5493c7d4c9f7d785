"""The region's buckets that the other region keeps a copy of: the engine's snapshots (so the DR
engine can rebuild its books from the latest one) and the reconciliation's reports (financial
records, kept where the region that may write them next can read them). Each is encrypted with the
region's data key, TLS-only, versioned (replication needs it), private, and logs its accesses to
the snapshot store's access-log bucket; in the primary each replicates into the DR region's bucket
of the same kind, re-encrypted under the DR key.

Reports are kept ``REPORT_RETENTION`` (7 years, what SOX asks of audit records; the SEC's rule
17a-4 asks 6 of a broker-dealer's books), current and overwritten versions alike, moving to
Standard-IA after 30 days and to Glacier Flexible Retrieval after 90: a report is read the day it
is written, by an auditor years later.
"""

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.nag import acknowledge, render

INFREQUENT_ACCESS_AFTER = Duration.days(30)
GLACIER_AFTER = Duration.days(90)
NONCURRENT_EXPIRY = Duration.days(90)
ACCESS_LOG_EXPIRY = Duration.days(400)
REPORT_RETENTION = Duration.days(7 * 365 + 2)  # seven years, leap days included


def _tiering(
    *, noncurrent_version_expiration: Duration, expiration: Duration | None = None
) -> s3.LifecycleRule:
    """Standard-IA after 30 days, Glacier after 90; versions expire as given."""
    return s3.LifecycleRule(
        id="tiering",
        transitions=[
            s3.Transition(
                storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                transition_after=INFREQUENT_ACCESS_AFTER,
            ),
            s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=GLACIER_AFTER),
        ],
        abort_incomplete_multipart_upload_after=Duration.days(1),
        expiration=expiration,
        noncurrent_version_expiration=noncurrent_version_expiration,
    )


class ReplicatedStore(Construct):
    """``bucket`` (named ``bucket_name``, under ``key``), replicated into ``replicate_to``'s."""

    bucket_name: str
    bucket: s3.Bucket
    key: kms.IKey

    def _build(
        self,
        *,
        bucket_name: str,
        key: kms.IKey,
        retain: bool,
        access_logs: s3.IBucket,
        log_prefix: str,
        lifecycle: Sequence[s3.LifecycleRule],
        replicate_to: "ReplicatedStore | None",
    ) -> None:
        replication = None
        destination: s3.IBucket | None = None
        if replicate_to is not None:
            # Imported, so the L2 does not add a policy naming this stack's role to the DR
            # bucket (a cycle between the stacks; in one account the role's policy suffices).
            destination = s3.Bucket.from_bucket_attributes(
                self,
                "Replica",
                bucket_name=replicate_to.bucket_name,
                region=replicate_to.bucket.env.region,
            )
            replication = [
                s3.ReplicationRule(
                    destination=destination,
                    kms_key=kms.Key.from_key_arn(self, "ReplicaKey", replicate_to.key.key_arn),
                    sse_kms_encrypted_objects=True,
                    delete_marker_replication=False,
                    priority=1,
                )
            ]
        self.key = key
        self.bucket_name = bucket_name
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=list(lifecycle),
            replication_rules=replication,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        if destination is not None:
            objects = [self.bucket.arn_for_objects("*"), destination.arn_for_objects("*")]
            acknowledge(
                self.bucket,
                {
                    **{
                        f"AwsSolutions-IAM5[Resource::{render(self, arn)}]": "Replication reads"
                        " every object version of this bucket and writes it to the DR bucket."
                        for arn in objects
                    },
                    "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": "Replication re-encrypts"
                    " each object under the DR region's data key; the grant names that key only.",
                    "AwsSolutions-IAM5[Action::kms:ReEncrypt*]": "Replication re-encrypts"
                    " each object under the DR region's data key; the grant names that key only.",
                },
            )


class SnapshotStore(ReplicatedStore):
    """The engine's snapshots, and the access-log bucket of every replicated store here."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        key: kms.IKey,
        retain: bool,
        replicate_to: "SnapshotStore | None" = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging delivers only to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=ACCESS_LOG_EXPIRY, noncurrent_version_expiration=Duration.days(30)
                )
            ],
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        self._build(
            bucket_name=bucket_name,
            key=key,
            retain=retain,
            access_logs=self.access_logs,
            log_prefix="snapshots/",
            # A bad snapshot can be rolled back to the previous version for 90 days.
            lifecycle=[_tiering(noncurrent_version_expiration=NONCURRENT_EXPIRY)],
            replicate_to=replicate_to,
        )


class ReportStore(ReplicatedStore):
    """The reconciliation's reports (``reconciliation/YYYY/MM/DD/<HHMMSS>Z.json``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        key: kms.IKey,
        retain: bool,
        access_logs: s3.IBucket,
        replicate_to: "ReportStore | None" = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._build(
            bucket_name=bucket_name,
            key=key,
            retain=retain,
            access_logs=access_logs,
            log_prefix="reports/",
            lifecycle=[
                _tiering(
                    expiration=REPORT_RETENTION, noncurrent_version_expiration=REPORT_RETENTION
                )
            ],
            replicate_to=replicate_to,
        )


# The archive: Standard-IA after 30 days, Glacier Instant Retrieval after 180 (history is read
# rarely but at once, by a backtest or an audit); kept for good, since history is the point.
ARCHIVE_INFREQUENT_AFTER = Duration.days(30)
ARCHIVE_GLACIER_IR_AFTER = Duration.days(180)
ARCHIVE_RESULTS_EXPIRY = Duration.days(30)


class ArchiveStore(ReplicatedStore):
    """The market-history archive (``events/symbol=<S>/date=<D>/``, Parquet, written by Firehose;
    ``athena-results/``, Athena's). Not replicated: each region archives its own journal, and the
    DR region's holds what it traded after a failover. Versioned like the other stores (an object
    Firehose rewrote, or one deleted by mistake, can be restored for 30 days)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        key: kms.IKey,
        retain: bool,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self._build(
            bucket_name=bucket_name,
            key=key,
            retain=retain,
            access_logs=access_logs,
            log_prefix="archive/",
            lifecycle=[
                s3.LifecycleRule(
                    id="tiering",
                    prefix="events/",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=ARCHIVE_INFREQUENT_AFTER,
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=ARCHIVE_GLACIER_IR_AFTER,
                        ),
                    ],
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                    noncurrent_version_expiration=Duration.days(30),
                ),
                s3.LifecycleRule(
                    id="query-results",
                    prefix="athena-results/",
                    expiration=ARCHIVE_RESULTS_EXPIRY,
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
            replicate_to=None,
        )
