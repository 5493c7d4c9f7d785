"""Route 53 failover for the API: each region publishes its own record (PRIMARY or SECONDARY) for
the same name, guarded by a health check on that region's ``/v1/health`` (the primary's also by the
failover switch, which the DR state machines flip: ``stacks.constructs.failover``). Each region's
half needs nothing from the other, so no cross-region reference is involved."""

import hashlib
import re

import jsii
from aws_cdk import Duration, NestedStack, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from constructs import Construct

from stacks import constants
from stacks.config import DeploymentConfig


@jsii.implements(route53.IAliasRecordTarget)
class _ApiDomainTarget:
    """The regional API domain as an alias that also evaluates its target's health (Route 53
    requires it on failover aliases; the stock ApiGatewayDomain target leaves it off)."""

    def __init__(self, domain: apigw.IDomainName) -> None:
        self._domain = domain

    def bind(
        self, _record: route53.IRecordSet, _zone: route53.IHostedZone | None = None
    ) -> route53.AliasRecordTargetConfig:
        return route53.AliasRecordTargetConfig(
            dns_name=self._domain.domain_name_alias_domain_name,
            hosted_zone_id=self._domain.domain_name_alias_hosted_zone_id,
            evaluate_target_health=True,
        )


def unique_id_outside_nested_stacks(construct: Construct) -> str:
    """``Names.node_unique_id`` of ``construct`` as if no nested stack were on its path: the
    id ``DomainName.add_base_path_mapping`` named its mapping by before the REST API moved into
    its nested stack (CDK's scheme: the path's ids, ``Default`` dropped, as alphanumerics, then
    the first 8 hex digits of the MD5 of the ids joined with ``/``)."""
    ids = [
        scope.node.id
        for scope in construct.node.scopes[1:]
        if not NestedStack.is_nested_stack(scope) and scope.node.id != "Default"
    ]
    digest = hashlib.md5("/".join(ids).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human = [name for i, name in enumerate(ids) if i == 0 or ids[i - 1] != name]
    readable = "".join(re.sub(r"[^A-Za-z0-9]", "", name) for name in human if name != "Resource")
    return readable + digest


class ApiFailoverRecord(Construct):
    @classmethod
    def configured(
        cls, scope: Construct, construct_id: str, *, config: DeploymentConfig, api: apigw.RestApi
    ) -> "ApiFailoverRecord | None":
        """The region's half of the failover, if a hosted zone is configured (else nothing)."""
        if not (config.hosted_zone_id and config.hosted_zone_name and config.api_domain):
            return None
        return cls(
            scope,
            construct_id,
            zone_id=config.hosted_zone_id,
            zone_name=config.hosted_zone_name,
            domain_name=config.api_domain,
            api=api,
            primary=Stack.of(scope).region == config.primary_region,
        )

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        zone_id: str,
        zone_name: str,
        domain_name: str,
        api: apigw.RestApi,
        primary: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=zone_id, zone_name=zone_name
        )
        certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=domain_name,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        domain = apigw.DomainName(
            self,
            "Domain",
            domain_name=domain_name,
            certificate=certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        # The mapping keeps the logical id it had while the REST API was in the main stack: a
        # new id would make CloudFormation create a second "(none)" mapping on the domain before
        # deleting the first, which API Gateway refuses; with the same id the new API's id is an
        # in-place update ("AWS::ApiGateway::BasePathMapping": RestApiId, no interruption).
        apigw.BasePathMapping(
            domain,
            f"Map:--=>{unique_id_outside_nested_stacks(api)}",
            domain_name=domain,
            rest_api=api,
            stage=api.deployment_stage,
        )
        # The check calls the region's own execute-api endpoint, so it tests that region only.
        self.health_check = route53.HealthCheck(
            self,
            "Health",
            type=route53.HealthCheckType.HTTPS,
            fqdn=f"{api.rest_api_id}.execute-api.{region}.{Stack.of(self).url_suffix}",
            port=443,
            resource_path=f"/{api.deployment_stage.stage_name}{constants.HEALTH_PATH}",
            request_interval=Duration.seconds(10),
            failure_threshold=3,
        )
        # The primary's record answers while its region is healthy *and* the failover switch is
        # on: a calculated check of the two (HealthThreshold 2 of 2). The switch is a calculated
        # check with HealthThreshold 0, which Route 53 always considers healthy ("HealthThreshold",
        # Route 53 API reference: "If you specify 0, Route 53 always considers this health check
        # to be healthy"); the failover state machine inverts it ("Inverted": unhealthy when
        # healthy), so DNS answers with the DR region even while the primary's own check passes
        # (a drill, a partial outage), and does not turn back by itself when the primary returns
        # before the failback. Inverting the region's own check instead (the former runbook)
        # would make a primary that is down look healthy.
        self.failover_switch: route53.HealthCheck | None = None
        guard = self.health_check
        if primary:
            self.failover_switch = route53.HealthCheck(
                self,
                "FailoverSwitch",
                type=route53.HealthCheckType.CALCULATED,
                child_health_checks=[self.health_check],
                health_threshold=0,
            )
            guard = route53.HealthCheck(
                self,
                "Gate",
                type=route53.HealthCheckType.CALCULATED,
                child_health_checks=[self.health_check, self.failover_switch],
                health_threshold=2,
            )
        self.record = route53.ARecord(
            self,
            "Record",
            zone=zone,
            record_name=domain_name,
            target=route53.RecordTarget.from_alias(_ApiDomainTarget(domain)),
            failover=route53.Failover.PRIMARY if primary else route53.Failover.SECONDARY,
            set_identifier=f"api-{region}",
            health_check=guard,
        )
