"""The WebSocket API: routes from the catalog, the ``$connect`` Lambda authorizer, a throttled stage
and JSON access logs.

The authorizer has no identity source, so API Gateway calls it for every ``$connect``: with an
identity source configured, a connection without it (an anonymous one, for public market data)
would be answered 401 before the authorizer runs. The authorizer itself admits a connection
without a token as anonymous and refuses a present but invalid one; a signed-in client sends its
access token in the ``token`` query parameter (browsers cannot set headers on a WebSocket), a
program its API key's signature (``api_key``, ``timestamp``, ``window``, ``signature``), which the
authorizer verifies against the api_keys table and the API-key KMS key."""

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.constructs.nag import acknowledge

CONNECT = "$connect"


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(
            '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"requestTime":"$context.requestTime","routeKey":"$context.routeKey",'
            '"eventType":"$context.eventType","status":"$context.status",'
            '"connectionId":"$context.connectionId","error":"$context.error.message",'
            '"authorizerError":"$context.authorizer.error"}'
        )


class WebSocketApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        stage_name: str,
        rate_limit: int,
        burst_limit: int,
        key: kms.IKey,
        retention: logs.RetentionDays,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=name,
            description="Exchange market data and private order stream",
            route_selection_expression="$request.body.action",
        )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=stage_name,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            access_log_settings=_AccessLogs(access_logs),
        )
        self._authorizer: authorizers.WebSocketLambdaAuthorizer | None = None

    def set_authorizer(self, handler: lambda_.IFunction) -> None:
        # identity_source=[] still renders an empty IdentitySource; the $connect route removes
        # the property (``_without_identity_source``), which a REQUEST authorizer may omit.
        self._authorizer = authorizers.WebSocketLambdaAuthorizer(
            "Authorizer", handler, identity_source=[]
        )

    def add_route(self, route_key: str, handler: lambda_.IFunction) -> None:
        """``$connect`` takes the authorizer, which must be set first; other routes run on the
        connection it admitted."""
        if route_key == CONNECT and self._authorizer is None:
            raise ValueError("set the $connect authorizer before adding the $connect route")
        route = self.api.add_route(
            route_key,
            integration=integrations.WebSocketLambdaIntegration(
                f"Integration{route_key.strip('$').title()}", handler
            ),
            authorizer=self._authorizer if route_key == CONNECT else None,
        )
        if route_key == CONNECT:
            self._without_identity_source()
        else:
            acknowledge(
                route,
                {
                    "AwsSolutions-APIG4": f"WebSocket route {route_key} runs on a connection that"
                    " the $connect authorizer already admitted; API Gateway authorizes only"
                    " $connect.",
                },
            )

    def _without_identity_source(self) -> None:
        """Drop ``IdentitySource`` from the authorizer CDK made when $connect bound it
        (AWS::ApiGatewayV2::Authorizer: "For a REQUEST authorizer, this is optional")."""
        found = [
            child for child in self.api.node.find_all() if isinstance(child, apigwv2.CfnAuthorizer)
        ]
        if len(found) != 1:
            raise TypeError(f"expected the one $connect authorizer, found {len(found)}")
        found[0].add_property_deletion_override("IdentitySource")
