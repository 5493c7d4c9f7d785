"""One region's share of the exchange. The same stack class serves the primary and the DR region."""

from typing import Any

from aws_cdk import CfnOutput, Environment, Stack
from constructs import Construct

from stacks.config import DeploymentConfig, RegionRole
from stacks.constructs.shared_layer import SharedLayer


class RegionalStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        role: RegionRole,
        **kwargs: Any,
    ) -> None:
        region = config.region(role)
        self._zones = config.availability_zones[region]
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.account, region=region),
            description=f"Serverless exchange, {role.value} region ({config.environment})",
            termination_protection=config.environment == "prod",
            **kwargs,
        )
        self.role = role
        self.shared_layer = SharedLayer(self, "SharedLayer", environment=config.environment)
        CfnOutput(self, "SharedLayerArn", value=self.shared_layer.layer.layer_version_arn)

    @property
    def availability_zones(self) -> list[str]:
        # Fixed in cdk.json: a lookup would need AWS credentials at synth time.
        return list(self._zones)
