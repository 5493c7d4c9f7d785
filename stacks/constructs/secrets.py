"""A generated secret that the primary owns and Secrets Manager replicates into the DR region under
the same name, so both regions' code reads the same value."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


class ReplicatedSecret(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        key: kms.IKey,
        replica_region: str | None,
        replica_key: kms.IKey | None,
        retain: bool,
    ) -> None:
        """``replica_region`` set: create it here, replicated there. Unset: the local replica."""
        super().__init__(scope, construct_id)
        if replica_region is None:
            self.secret: secretsmanager.ISecret = secretsmanager.Secret.from_secret_name_v2(
                self, "Replica", name
            )
            return
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=name,
            description=description,
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            replica_regions=[
                secretsmanager.ReplicaRegion(region=replica_region, encryption_key=replica_key)
            ],
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
