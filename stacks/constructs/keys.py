"""The region's customer-managed KMS keys: one for data at rest, one for API keys' secrets."""

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class DataKey(Construct):
    """One key per region for tables, the cluster, the cache, the stream, buckets, secrets, queues,
    topics and log groups. Rotated yearly; retained when ``retain`` (a deleted key loses data)."""

    def __init__(self, scope: Construct, construct_id: str, *, alias: str, retain: bool) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description=f"Exchange data at rest in {stack.region}",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        # Log groups (CloudWatch Logs) and alarm notifications (CloudWatch -> SNS) use the key as
        # services, not as roles, so the key policy names them.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        # The notifications topic delivers to its KMS-encrypted queue as the SNS service, which
        # the queue key's policy must allow ("Configure KMS permissions for Amazon SNS": an
        # encrypted SQS subscriber's key lets sns.amazonaws.com GenerateDataKey and Decrypt).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )


class ApiKeySecretsKey(Construct):
    """The key API keys' secrets are encrypted under (``Need.API_KEY_ENCRYPT``/``DECRYPT``).

    A multi-Region key: the api_keys table is global, so the DR region's authorizers must decrypt
    what the primary's api_keys function encrypted. The primary region creates the primary key,
    the DR region a replica of it (``primary_key_arn``): "Multi-Region keys in AWS KMS" share key
    material and key id, so a ciphertext of one decrypts with the other in its own region, with no
    call across regions. Rotation is set on the primary key and applies to its replicas ("Rotating
    multi-Region keys"); retained when ``retain``, like the data key.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias: str,
        retain: bool,
        primary_key_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        description = "Exchange API keys' secrets (multi-Region)"
        if primary_key_arn is None:
            key = kms.Key(
                self,
                "Key",
                alias=alias,
                description=description,
                multi_region=True,
                enable_key_rotation=True,
                pending_window=Duration.days(30),
                removal_policy=removal,
            )
            self.key_arn = key.key_arn
            return
        # The L2 Key has no replica form. The key policy is the one CDK gives a key: the account
        # may use it through IAM, so each function's role policy says what it may do.
        replica = kms.CfnReplicaKey(
            self,
            "Replica",
            primary_key_arn=primary_key_arn,
            description=description,
            pending_window_in_days=30,
            key_policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        principals=[iam.AccountRootPrincipal()],
                        actions=["kms:*"],
                        resources=["*"],  # in a key policy, "*" means this key
                    )
                ]
            ),
        )
        replica.apply_removal_policy(removal)
        kms.CfnAlias(self, "Alias", alias_name=alias, target_key_id=replica.attr_key_id)
        self.key_arn = replica.attr_arn
