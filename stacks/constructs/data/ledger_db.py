"""The ledger's Aurora PostgreSQL: a Global Database whose primary cluster (writer + reader) lives
in the primary region and whose secondary (read-only until promoted) lives in the DR region.

The admin secret is generated in the primary and replicated by Secrets Manager into the DR region
under the same name; the DR functions read that replica.
"""

from aws_cdk import Duration, RemovalPolicy, SecretValue
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks import constants
from stacks.constructs.nag import acknowledge

ROTATION_DAYS = 30
# Characters that break a libpq URL or a shell command line when they appear in a password.
EXCLUDED_PASSWORD_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"  # noqa: S105 - not a password


class LedgerDatabase(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        rotation_subnets: ec2.SubnetSelection,
        key: kms.IKey,
        instance_class: str,
        global_cluster_id: str,
        secret_name: str,
        replica_region: str | None,
        replica_key: kms.IKey | None,
        retain: bool,
    ) -> None:
        """``replica_region`` set: the primary cluster, the global cluster and the secret (with its
        replica there). Unset: a secondary cluster joined to ``global_cluster_id``."""
        super().__init__(scope, construct_id)
        engine = rds.DatabaseClusterEngine.aurora_postgres(version=constants.AURORA_VERSION)
        primary = replica_region is not None
        instance_type = ec2.InstanceType(instance_class)

        def instance(name: str) -> rds.IClusterInstance:
            return rds.ClusterInstance.provisioned(
                name,
                instance_type=instance_type,
                publicly_accessible=False,
                enable_performance_insights=True,
                performance_insight_encryption_key=key,
                auto_minor_version_upgrade=True,
            )

        if replica_region is not None:
            if replica_key is None:
                raise ValueError("the replicated secret needs the replica region's key")
            credentials = rds.Credentials.from_generated_secret(
                constants.DATABASE_ADMIN,
                secret_name=secret_name,
                encryption_key=key,
                exclude_characters=EXCLUDED_PASSWORD_CHARACTERS,
                replica_regions=[
                    secretsmanager.ReplicaRegion(region=replica_region, encryption_key=replica_key)
                ],
            )
        else:
            # A secondary takes its users from the primary; the L2 insists on credentials, so it
            # gets a placeholder that the overrides below remove from the template.
            credentials = rds.Credentials.from_password(
                constants.DATABASE_ADMIN, SecretValue.unsafe_plain_text("secondary-has-none")
            )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            writer=instance("writer"),
            readers=[instance("reader")],
            vpc=vpc,
            vpc_subnets=subnets,
            credentials=credentials,
            default_database_name=constants.DATABASE_NAME if primary else None,
            storage_encrypted=True,
            storage_encryption_key=key,
            iam_authentication=True,
            backup=rds.BackupProps(
                retention=Duration.days(constants.AURORA_BACKUP_DAYS),
                preferred_window="03:00-04:00",
            ),
            parameters={"rds.force_ssl": "1"},
            cloudwatch_logs_exports=["postgresql"],
            monitoring_interval=Duration.seconds(60),
            deletion_protection=retain,
            copy_tags_to_snapshot=True,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        cfn = self.cluster.node.default_child
        if not isinstance(cfn, rds.CfnDBCluster):
            raise TypeError("expected the cluster's CfnDBCluster")
        acknowledge(
            self.cluster,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]": "RDS enhanced monitoring requires this"
                " AWS-managed role policy; it only publishes OS metrics to CloudWatch Logs.",
            },
        )
        if primary:
            self.secret: secretsmanager.ISecret = self._primary_secret()
            self.cluster.add_rotation_single_user(
                automatically_after=Duration.days(ROTATION_DAYS),
                vpc_subnets=rotation_subnets,
                exclude_characters=EXCLUDED_PASSWORD_CHARACTERS,
            )
            self.global_cluster = rds.CfnGlobalCluster(
                self,
                "Global",
                global_cluster_identifier=global_cluster_id,
                source_db_cluster_identifier=self.cluster.cluster_arn,
                deletion_protection=retain,
            )
            self.global_cluster.apply_removal_policy(
                RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
            )
        else:
            cfn.add_property_deletion_override("MasterUsername")
            cfn.add_property_deletion_override("MasterUserPassword")
            cfn.global_cluster_identifier = global_cluster_id
            self.secret = secretsmanager.Secret.from_secret_name_v2(self, "Secret", secret_name)

    def _primary_secret(self) -> secretsmanager.ISecret:
        secret = self.cluster.secret
        if secret is None:
            raise TypeError("the primary cluster must have a generated secret")
        return secret

    def grant_connect(self, grantee: iam.IGrantable, peer: ec2.IConnectable) -> None:
        """Read the credentials and reach the writer on its port."""
        self.secret.grant_read(grantee)
        self.cluster.connections.allow_default_port_from(peer, "ledger clients")
