"""The engine's snapshot bucket, its access-log bucket and (in the primary) replication to the DR
region's snapshot bucket, so the DR engine can rebuild its books from the latest snapshot."""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.nag import acknowledge, render

INFREQUENT_ACCESS_AFTER = Duration.days(30)
GLACIER_AFTER = Duration.days(90)
NONCURRENT_EXPIRY = Duration.days(90)
ACCESS_LOG_EXPIRY = Duration.days(400)


class SnapshotStore(Construct):
    bucket_name: str
    bucket: s3.Bucket
    key: kms.IKey

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
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
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
            removal_policy=removal,
            auto_delete_objects=False,
        )
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
            versioned=True,  # replication needs it; a bad snapshot can be rolled back
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="snapshots/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tiering",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=INFREQUENT_ACCESS_AFTER,
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER, transition_after=GLACIER_AFTER
                        ),
                    ],
                    noncurrent_version_expiration=NONCURRENT_EXPIRY,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            replication_rules=replication,
            removal_policy=removal,
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
