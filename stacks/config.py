"""The deployment's typed settings, read from CDK context (``cdk.json`` plus ``-c`` overrides)."""

from enum import StrEnum
from typing import Annotated

from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exchange.domain.errors import ConfigurationError

CONTEXT_PREFIX = "exchange:"


class RegionRole(StrEnum):
    PRIMARY = "primary"
    DR = "dr"


class DeploymentConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    environment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}$")]
    owner: str
    cost_center: Annotated[str, Field(alias="costCenter")]
    compliance: str
    # None deploys to whichever account the CLI's credentials name.
    account: Annotated[str | None, Field(pattern=r"^\d{12}$")] = None
    primary_region: Annotated[str, Field(alias="primaryRegion")]
    dr_region: Annotated[str, Field(alias="drRegion")]
    # Explicit, so synth needs no credentials for an availability-zone lookup.
    availability_zones: Annotated[dict[str, list[str]], Field(alias="availabilityZones")]

    @model_validator(mode="after")
    def _zones_for_each_region(self) -> "DeploymentConfig":
        if self.primary_region == self.dr_region:
            raise ValueError("the DR region must differ from the primary region")
        for region in (self.primary_region, self.dr_region):
            zones = self.availability_zones.get(region, [])
            if len(zones) < 3 or not all(zone.startswith(region) for zone in zones):
                raise ValueError(f"availabilityZones needs 3 zones of {region}, has {zones}")
        return self

    def region(self, role: RegionRole) -> str:
        return self.primary_region if role is RegionRole.PRIMARY else self.dr_region

    def peer_region(self, role: RegionRole) -> str:
        return self.dr_region if role is RegionRole.PRIMARY else self.primary_region

    @classmethod
    def from_node(cls, node: Node) -> "DeploymentConfig":
        """Read every ``exchange:*`` context key of the app."""
        fields = {
            name: node.try_get_context(f"{CONTEXT_PREFIX}{name}")
            for name in (
                "environment",
                "owner",
                "costCenter",
                "compliance",
                "account",
                "primaryRegion",
                "drRegion",
                "availabilityZones",
            )
        }
        try:
            return cls.model_validate({k: v for k, v in fields.items() if v is not None})
        except ValidationError as exc:
            raise ConfigurationError(f"invalid {CONTEXT_PREFIX}* context: {exc}") from exc
