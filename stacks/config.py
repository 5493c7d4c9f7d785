"""The deployment's typed settings, read from CDK context (``cdk.json`` plus ``-c`` overrides).

``exchange:environment`` picks a profile from ``exchange:environments`` (``dev``, ``prod``); any
field can also be set on its own as ``exchange:<field>``, which wins over the profile, e.g.
``-c exchange:drEngineDesiredCount=1``.
"""

import json
import re
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from aws_cdk import aws_logs as logs
from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from exchange.domain.errors import ConfigurationError

CONTEXT_PREFIX = "exchange:"
DEFAULT_PAYOUT_PROVIDER_URL: Final = "https://payouts.provider.example"
DEFAULT_EMAIL_DOMAIN: Final = "exchange.example"
PROFILES_KEY = f"{CONTEXT_PREFIX}environments"


class RegionRole(StrEnum):
    PRIMARY = "primary"
    DR = "dr"


class KinesisMode(StrEnum):
    ON_DEMAND = "on-demand"
    PROVISIONED = "provisioned"


# What each alarm subscription protocol takes as its endpoint ("Amazon SNS subscription protocols",
# Subscribe's Endpoint): an e-mail address, a phone number in E.164 form, an HTTPS URL, an SQS
# queue's ARN or a Lambda function's ARN (a version or alias qualifier allowed).
SUBSCRIPTION_ENDPOINTS: Final[dict[str, re.Pattern[str]]] = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+$"),
    "sms": re.compile(r"^\+[1-9]\d{1,14}$"),
    "https": re.compile(r"^https://[^\s/$.?#][^\s]*$"),
    "sqs": re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$"),
    "lambda": re.compile(
        r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$"
    ),
}


class AlarmSubscription(BaseModel):
    """One subscriber of each region's alarm topic: ``{"protocol": ..., "endpoint": ...}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: Literal["email", "sms", "https", "sqs", "lambda"]
    endpoint: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _endpoint_fits_protocol(self) -> Self:
        if not SUBSCRIPTION_ENDPOINTS[self.protocol].match(self.endpoint):
            raise ValueError(f"{self.endpoint!r} is no endpoint of protocol {self.protocol}")
        return self


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

    # --- per-environment profile (exchange:environments.<env>) ---------------------------------
    # True keeps tables, clusters, buckets, keys and logs when a stack or resource is deleted.
    retain_data: Annotated[bool, Field(alias="retainData")] = True
    log_retention: Annotated[str, Field(alias="logRetention")] = "ONE_YEAR"
    nat_gateways: Annotated[int, Field(alias="natGateways", ge=1, le=3)] = 3
    kinesis_mode: Annotated[KinesisMode, Field(alias="kinesisMode")] = KinesisMode.ON_DEMAND
    # Used only in provisioned mode.
    kinesis_shards: Annotated[int, Field(alias="kinesisShards", ge=1, le=500)] = 4
    # The DR engine: 0 (cold: scale up during failover) or 1 task per shard (warm standby).
    dr_engine_desired_count: Annotated[int, Field(alias="drEngineDesiredCount", ge=0, le=1)] = 0
    aurora_instance_class: Annotated[
        str, Field(alias="auroraInstanceClass", pattern=r"^[a-z0-9]+\.[a-z0-9]+$")
    ] = "r6g.large"
    cache_node_type: Annotated[
        str, Field(alias="cacheNodeType", pattern=r"^cache\.[a-z0-9.]+$")
    ] = "cache.r6g.large"
    broker_instance_type: Annotated[
        str, Field(alias="brokerInstanceType", pattern=r"^mq\.[a-z0-9.]+$")
    ] = "mq.m5.large"
    # API Gateway stage throttling (steady requests/s and burst), per region.
    api_rate_limit: Annotated[int, Field(alias="apiRateLimit", gt=0)] = 500
    api_burst_limit: Annotated[int, Field(alias="apiBurstLimit", gt=0)] = 1000
    # WAF rate rule: at most wafRateLimit requests per IP within wafRateWindowSeconds.
    waf_rate_limit: Annotated[int, Field(alias="wafRateLimit", ge=10)] = 1000
    waf_rate_window_seconds: Annotated[
        Literal[60, 120, 300, 600], Field(alias="wafRateWindowSeconds")
    ] = 300
    # The alarm topic's subscribers (docs/deploy.md, "Alarm subscriptions"); ``alarmEmail`` is
    # the older single e-mail address, kept: it adds one email subscription.
    alarm_email: Annotated[str | None, Field(alias="alarmEmail", pattern=r"^[^@\s]+@[^@\s]+$")] = (
        None
    )
    alarm_subscriptions: Annotated[
        tuple[AlarmSubscription, ...], Field(alias="alarmSubscriptions")
    ] = ()
    # Route 53 failover for the API; both unset skips the DNS part cleanly.
    hosted_zone_id: Annotated[str | None, Field(alias="hostedZoneId", pattern=r"^Z[A-Z0-9]+$")] = (
        None
    )
    hosted_zone_name: Annotated[str | None, Field(alias="hostedZoneName")] = None
    api_record_name: Annotated[str, Field(alias="apiRecordName", pattern=r"^[a-z0-9-]+$")] = "api"
    # The payment provider's payouts API (docs/deploy.md, "Payouts"): a placeholder until the
    # contract with a provider gives its URL; the payout worker refuses nothing but cannot reach it.
    payout_provider_url: Annotated[
        str, Field(alias="payoutProviderUrl", pattern=r"^https://[^\s/$.?#][^\s]*$")
    ] = DEFAULT_PAYOUT_PROVIDER_URL
    # Email (SES, docs/deploy.md "Email"): the verified domain identity, and the sender's address
    # in it (``no-reply@<emailDomain>`` unless ``emailSender`` names another address of it).
    email_domain: Annotated[
        str, Field(alias="emailDomain", pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")
    ] = DEFAULT_EMAIL_DOMAIN
    email_sender: Annotated[
        str | None, Field(alias="emailSender", pattern=r"^[^@\s]+@[^@\s]+$")
    ] = None

    @field_validator("waf_rate_window_seconds", mode="before")
    @classmethod
    def _window_number(cls, value: object) -> object:
        # `-c key=value` arrives as a string, which a Literal of ints does not coerce.
        return int(value) if isinstance(value, str) and value.isdigit() else value

    @field_validator("alarm_subscriptions", mode="before")
    @classmethod
    def _subscriptions_json(cls, value: object) -> object:
        # `-c exchange:alarmSubscriptions='[{"protocol": ...}]'` arrives as a JSON string.
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("log_retention")
    @classmethod
    def _known_retention(cls, value: str) -> str:
        if value not in logs.RetentionDays.__members__:
            raise ValueError(f"logRetention must name a RetentionDays member, was {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.primary_region == self.dr_region:
            raise ValueError("the DR region must differ from the primary region")
        for region in (self.primary_region, self.dr_region):
            zones = self.availability_zones.get(region, [])
            if len(zones) < 3 or not all(zone.startswith(region) for zone in zones):
                raise ValueError(f"availabilityZones needs 3 zones of {region}, has {zones}")
        if (self.hosted_zone_id is None) != (self.hosted_zone_name is None):
            raise ValueError("set both hostedZoneId and hostedZoneName, or neither")
        if self.api_burst_limit < self.api_rate_limit:
            raise ValueError("apiBurstLimit must be at least apiRateLimit")
        if self.email_sender is not None and not self.email_sender.endswith(
            f"@{self.email_domain}"
        ):
            raise ValueError("emailSender must be an address of emailDomain (its SES identity)")
        listed = [(s.protocol, s.endpoint) for s in self.alarm_subscriptions]
        if len(set(listed)) != len(listed):
            raise ValueError("alarmSubscriptions lists a subscription twice")
        return self

    @property
    def alarm_subscribers(self) -> tuple[AlarmSubscription, ...]:
        """``alarmSubscriptions``, and ``alarmEmail`` as an email subscription unless listed."""
        if self.alarm_email is None:
            return self.alarm_subscriptions
        legacy = AlarmSubscription(protocol="email", endpoint=self.alarm_email)
        if legacy in self.alarm_subscriptions:
            return self.alarm_subscriptions
        return (legacy, *self.alarm_subscriptions)

    @property
    def sender(self) -> str:
        """The address notices are emailed from: ``emailSender``, or no-reply at the domain."""
        return self.email_sender or f"no-reply@{self.email_domain}"

    @property
    def retention(self) -> logs.RetentionDays:
        return logs.RetentionDays[self.log_retention]

    @property
    def api_domain(self) -> str | None:
        return f"{self.api_record_name}.{self.hosted_zone_name}" if self.hosted_zone_name else None

    def region(self, role: RegionRole) -> str:
        return self.primary_region if role is RegionRole.PRIMARY else self.dr_region

    def peer_region(self, role: RegionRole) -> str:
        return self.dr_region if role is RegionRole.PRIMARY else self.primary_region

    def resource_name(self, *parts: str) -> str:
        """A physical name shared by both regions, e.g. ``exchange-prod-orders``."""
        return "-".join(("exchange", self.environment, *parts))

    @classmethod
    def from_node(cls, node: Node) -> "DeploymentConfig":
        """The environment's profile, then every ``exchange:<field>`` context key on top."""
        environment = node.try_get_context(f"{CONTEXT_PREFIX}environment")
        profiles: dict[str, dict[str, Any]] = node.try_get_context(PROFILES_KEY) or {}
        if environment is not None and profiles and environment not in profiles:
            raise ConfigurationError(
                f"environment {environment!r} has no profile in {PROFILES_KEY}"
                f" (known: {', '.join(sorted(profiles))})"
            )
        fields: dict[str, Any] = dict(profiles.get(environment, {})) if environment else {}
        for name, info in cls.model_fields.items():
            value = node.try_get_context(f"{CONTEXT_PREFIX}{info.alias or name}")
            if value is not None:
                fields[info.alias or name] = value
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise ConfigurationError(f"invalid {CONTEXT_PREFIX}* context: {exc}") from exc
