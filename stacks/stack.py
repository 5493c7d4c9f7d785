"""What every stack of the app shares: its environment, zones and protection."""

from typing import Any

from aws_cdk import Environment, Stack
from constructs import Construct

from stacks.config import DeploymentConfig, RegionRole


class ExchangeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        role: RegionRole,
        description: str,
        **kwargs: Any,
    ) -> None:
        region = config.region(role)
        self._zones = config.availability_zones[region]
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.account, region=region),
            description=f"Serverless exchange, {description} ({config.environment})",
            termination_protection=config.environment == "prod",
            # The other region's values arrive as Fn::GetStackOutput (cdk.json makes references
            # weak), so no custom resource is needed to read them.
            cross_region_references=True,
            **kwargs,
        )
        self.config = config
        self.role = role

    @property
    def availability_zones(self) -> list[str]:
        # Fixed in cdk.json: a lookup would need AWS credentials at synth time.
        return list(self._zones)
