"""The ledger's Aurora PostgreSQL: a Global Database whose primary cluster (writer + reader) lives
in the primary region and whose secondary (read-only until promoted) lives in the DR region, and
in each region an RDS Proxy in front of its cluster.

Who connects how:

- every ledger function (``Need.LEDGER``) connects to the region's proxy as its own database role
  (``exchange.settings.database_role``) with an IAM authentication token over TLS; the proxy
  logs in to Aurora as that role with the password in the role's own secret;
- the migration runner (``Need.LEDGER_ADMIN``) and operators' tools connect to the cluster's
  writer directly with the admin secret, which only they can read.

Every secret is generated in the primary and replicated by Secrets Manager into the DR region under
the same name (and the same ARN but for the region); the DR proxy reads those replicas.
"""

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

from aws_cdk import (
    ArnFormat,
    CfnOutput,
    Duration,
    Fn,
    RemovalPolicy,
    SecretValue,
    Stack,
)
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
# Aurora PostgreSQL's port, which RDS Proxy listens on too (the engine family's default).
DATABASE_PORT: Final = 5432
# Of the writer's max_connections, what the proxy may open: the rest is for the migration runner
# and operators, who connect to the writer directly.
PROXY_MAX_CONNECTIONS_PERCENT: Final = 90


def role_output_id(role: str) -> str:
    """The primary stack's output holding ``role``'s secret ARN in the DR region."""
    return "LedgerRoleSecret" + "".join(part.title() for part in re.split(r"[^a-z0-9]+", role))


class LedgerDatabase(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        proxy_subnets: ec2.SubnetSelection,
        rotation_subnets: ec2.SubnetSelection,
        key: kms.IKey,
        instance_class: str,
        global_cluster_id: str,
        secret_name: str,
        roles: Sequence[str],
        role_secret_prefix: str,
        replica_region: str | None,
        replica_key: kms.IKey | None,
        role_secret_arns: Mapping[str, str] | None = None,
        retain: bool,
    ) -> None:
        """``replica_region`` set: the primary cluster, the global cluster and the secrets (with
        their replicas there). Unset: a secondary cluster joined to ``global_cluster_id``, whose
        proxy reads the replicas of the role secrets at ``role_secret_arns`` (the primary's
        ``replica_role_secret_arns``)."""
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

        replicas: list[secretsmanager.ReplicaRegion] = []
        if replica_region is not None:
            if replica_key is None:
                raise ValueError("the replicated secrets need the replica region's key")
            replicas = [
                secretsmanager.ReplicaRegion(region=replica_region, encryption_key=replica_key)
            ]
            credentials = rds.Credentials.from_generated_secret(
                constants.DATABASE_ADMIN,
                secret_name=secret_name,
                encryption_key=key,
                exclude_characters=EXCLUDED_PASSWORD_CHARACTERS,
                replica_regions=replicas,
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
        # role -> this region's ARN of the role's secret in the DR region (primary only)
        self.replica_role_secret_arns: Mapping[str, str] = MappingProxyType({})
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
            self.role_secrets = self._generate_role_secrets(
                roles, role_secret_prefix, key=key, replicas=replicas, retain=retain
            )
        else:
            cfn.add_property_deletion_override("MasterUsername")
            cfn.add_property_deletion_override("MasterUserPassword")
            cfn.global_cluster_identifier = global_cluster_id
            self.secret = secretsmanager.Secret.from_secret_name_v2(self, "Secret", secret_name)
            self.role_secrets = self._replica_role_secrets(roles, role_secret_arns or {}, key=key)
        self.proxy = self._proxy(vpc, proxy_subnets, name=f"{global_cluster_id}-proxy")

    def _primary_secret(self) -> secretsmanager.ISecret:
        secret = self.cluster.secret
        if secret is None:
            raise TypeError("the primary cluster must have a generated secret")
        return secret

    def _generate_role_secrets(
        self,
        roles: Sequence[str],
        prefix: str,
        *,
        key: kms.IKey,
        replicas: Sequence[secretsmanager.ReplicaRegion],
        retain: bool,
    ) -> Mapping[str, secretsmanager.ISecret]:
        """One generated secret per function's database role (``{"username", "password"}``, what
        RDS Proxy reads), replicated like the admin secret. The migration runner gives each role
        its secret's password; nobody else reads them but the proxy."""
        stack = Stack.of(self)
        secrets: dict[str, secretsmanager.ISecret] = {}
        replica_arns: dict[str, str] = {}
        for role in roles:
            secret = rds.DatabaseSecret(
                self,
                f"RoleSecret-{role}",
                username=role,
                secret_name=f"{prefix}/{role}",
                encryption_key=key,
                exclude_characters=EXCLUDED_PASSWORD_CHARACTERS,
                replica_regions=list(replicas),
            )
            secret.apply_removal_policy(RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY)
            acknowledge(
                secret,
                {
                    "AwsSolutions-SMG4": f"{role}'s password is only ever read by RDS Proxy; the"
                    " function itself signs in with IAM tokens. To rotate it, put a new value and"
                    " redeploy: the deploy-time migration runner sets it on the role.",
                },
            )
            secrets[role] = secret
            for replica in replicas:
                # "The ARN for a replicated secret is the same as the primary secret except for
                # the Region" (Secrets Manager, "Replicate secrets across Regions").
                output = CfnOutput(
                    stack,
                    role_output_id(role),
                    description=f"{role}'s secret in {replica.region}",
                    value=stack.format_arn(
                        service="secretsmanager",
                        region=replica.region,
                        resource="secret",
                        resource_name=Fn.select(6, Fn.split(":", secret.secret_arn)),
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    ),
                )
                output.override_logical_id(role_output_id(role))
                replica_arns[role] = Fn.get_stack_output(
                    stack.stack_name, role_output_id(role), region=stack.region
                )
        self.replica_role_secret_arns = MappingProxyType(replica_arns)
        return MappingProxyType(secrets)

    def _replica_role_secrets(
        self, roles: Sequence[str], arns: Mapping[str, str], *, key: kms.IKey
    ) -> Mapping[str, secretsmanager.ISecret]:
        missing = set(roles) - set(arns)
        if missing:
            raise ValueError(f"the DR proxy needs the replicated secrets of {sorted(missing)}")
        return MappingProxyType(
            {
                role: secretsmanager.Secret.from_secret_attributes(
                    self, f"RoleSecret-{role}", secret_complete_arn=arns[role], encryption_key=key
                )
                for role in roles
            }
        )

    def _proxy(
        self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection, *, name: str
    ) -> rds.DatabaseProxy:
        """RDS Proxy in front of this region's cluster: TLS and IAM authentication required, each
        function's role signing in with its own token. In the DR region its target is the
        secondary: reads work, writes fail until the global database fails over to it, after
        which the same endpoint sends them to the promoted writer ("Using RDS Proxy with Aurora
        global databases")."""
        # In: only the ledger functions (``grant_proxy_connect``). The proxy construct lets this
        # group into the cluster's; outbound stays as RDS sets a proxy up (open), since the proxy
        # also reads its secrets.
        security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description="RDS Proxy of the ledger: only the ledger functions may connect",
        )
        proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            proxy_target=rds.ProxyTarget.from_cluster(self.cluster),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            secrets=list(self.role_secrets.values()),
            db_proxy_name=name,
            require_tls=True,
            iam_auth=True,
            debug_logging=False,
            max_connections_percent=PROXY_MAX_CONNECTIONS_PERCENT,
        )
        # AWS::RDS::DBProxyTargetGroup takes no Tags (its CloudFormation schema), though the L1
        # renders the app's tags on it; the proxy itself carries them.
        target_group = proxy.node.find_child("ProxyTargetGroup")
        if not isinstance(target_group, rds.CfnDBProxyTargetGroup):
            raise TypeError("expected the proxy's CfnDBProxyTargetGroup")
        target_group.add_property_deletion_override("Tags")
        return proxy

    def grant_proxy_connect(
        self, grantee: iam.IGrantable, peer: ec2.IConnectable, db_user: str
    ) -> None:
        """``rds-db:connect`` as ``db_user`` on this proxy, and the network path to it."""
        self.proxy.grant_connect(grantee, db_user)
        self.proxy.connections.allow_from(
            peer, ec2.Port.tcp(DATABASE_PORT), f"{db_user} through the proxy"
        )

    def grant_admin(self, grantee: iam.IGrantable, peer: ec2.IConnectable) -> None:
        """The admin secret, every role's secret (to set their passwords) and the writer."""
        self.secret.grant_read(grantee)
        for secret in self.role_secrets.values():
            secret.grant_read(grantee)
        self.cluster.connections.allow_default_port_from(peer, "migrations as the admin")
