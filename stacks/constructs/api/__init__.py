"""The API capability: the REST API (with WAF) and the WebSocket API, routed from the catalog.

The REST API (its resources, methods, authorizers, gateway responses and invoke permissions) is a
nested stack of the main stack: CloudFormation allows 500 resources per stack, the nested one
counting as one ("CloudFormation quotas"), and the REST API is the largest group of resources that
nothing else in the stack depends on. The WebSocket API stays in the main stack: the functions'
environment names its stage (so the stack would depend on a nested stack that depends on the
functions it routes to), and the WAF stays beside it (its log group has a fixed name, which a
move would make CloudFormation create twice).
"""

from collections.abc import Mapping

from aws_cdk import NestedStack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambdas.catalog import FUNCTIONS, FunctionSpec, Need, Trigger
from stacks import constants
from stacks.config import DeploymentConfig
from stacks.constructs.api.rest import RestApi
from stacks.constructs.api.waf import WebAcl
from stacks.constructs.api.websocket import WebSocketApi
from stacks.constructs.nag import acknowledge

__all__ = ["Api", "RestApi", "WebAcl", "WebSocketApi", "public_reason"]


def public_reason(spec: FunctionSpec) -> str:
    """Why a route without a JWT is acceptable, by what the function is."""
    if Need.WEBHOOK_SECRET in spec.needs:
        return "the custodian's webhook carries no JWT; the handler verifies its HMAC signature"
    if Need.KYC_WEBHOOK_SECRET in spec.needs:
        return "the KYC provider's webhook carries no JWT; the handler verifies its HMAC signature"
    if "write" in spec.tables.values():
        raise ValueError(f"{spec.name} writes tables, so its routes cannot be public")
    return "public and read-only (market data, health for Route 53); no account data is reachable"


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        user_pool: cognito.IUserPool,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rest_stack = NestedStack(
            self, "RestStack", description=f"{config.resource_name('api')}: the REST API"
        )
        self.rest = RestApi(
            self.rest_stack,
            "Rest",
            name=config.resource_name("api"),
            user_pool=user_pool,
            stage_name=constants.API_STAGE,
            rate_limit=config.api_rate_limit,
            burst_limit=config.api_burst_limit,
            key=key,
            retention=config.retention,
            retain=config.retain_data,
        )
        self.websocket = WebSocketApi(
            self,
            "WebSocket",
            name=config.resource_name("ws"),
            stage_name=constants.API_STAGE,
            rate_limit=config.api_rate_limit,
            burst_limit=config.api_burst_limit,
            key=key,
            retention=config.retention,
            retain=config.retain_data,
        )
        self.waf = WebAcl(
            self,
            "Waf",
            name=config.resource_name("api"),
            resource_arn=self.rest.stage.stage_arn,
            rate_limit=config.waf_rate_limit,
            rate_window_seconds=config.waf_rate_window_seconds,
            key=key,
            retention=config.retention,
            retain=config.retain_data,
        )
        acknowledge(
            self.rest.stage,
            {
                "AwsSolutions-APIG3": "The stage is associated with the WAF web ACL; the"
                " association is in the main stack (beside the ACL and its named log group),"
                " where cdk-nag, checking the REST API's nested stack alone, does not see it.",
            },
        )

    def route(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        """Attach every catalog function to its routes; the authorizers go first."""
        authorizers = {Trigger.WEBSOCKET_AUTHORIZER, Trigger.REST_AUTHORIZER}
        ordered = sorted(FUNCTIONS.values(), key=lambda spec: spec.trigger not in authorizers)
        for spec in ordered:
            handler = functions[spec.name]
            match spec.trigger:
                case Trigger.REST:
                    for route in spec.routes:
                        reason = None if route.authorized else public_reason(spec)
                        self.rest.add_route(route, handler, public_reason=reason)
                case Trigger.REST_AUTHORIZER:
                    self.rest.set_request_authorizer(handler)
                case Trigger.WEBSOCKET_AUTHORIZER:
                    self.websocket.set_authorizer(handler)
                case Trigger.WEBSOCKET:
                    for route_key in spec.ws_routes:
                        self.websocket.add_route(route_key, handler)
                case _:
                    pass  # event sources and schedules: wired by the function factory
        self.rest.add_preflights()  # CORS: once every route is on its resource
