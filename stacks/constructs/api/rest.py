"""The REST API: Cognito authorizer (access tokens, by scope) on private routes, request validation,
stage throttling and a usage plan, JSON access logs, X-Ray, and problem+json for the gateway's own
4xx answers."""

import json
import re

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.catalog import Route
from stacks.constructs.nag import acknowledge

_PATH_PARAMETER = re.compile(r"{(\w+)}")
_BODY_METHODS = frozenset({"POST", "PATCH"})
# The gateway's own rejections, in the same problem+json shape as the handlers' (RFC 9457).
_PROBLEMS = {
    apigw.ResponseType.BAD_REQUEST_BODY: ("400", "Invalid request body"),
    apigw.ResponseType.BAD_REQUEST_PARAMETERS: ("400", "Invalid request parameters"),
    apigw.ResponseType.UNAUTHORIZED: ("401", "Unauthorized"),
    apigw.ResponseType.ACCESS_DENIED: ("403", "Forbidden"),
    apigw.ResponseType.THROTTLED: ("429", "Too many requests"),
    apigw.ResponseType.WAF_FILTERED: ("403", "Request blocked"),
}
SECURITY_HEADERS = {
    "Strict-Transport-Security": "'max-age=63072000; includeSubDomains; preload'",
    "X-Content-Type-Options": "'nosniff'",
    "X-Frame-Options": "'DENY'",
    "Content-Security-Policy": "'default-src 'none'; frame-ancestors 'none''",
}


class RestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        stage_name: str,
        rate_limit: int,
        burst_limit: int,
        user_pool: cognito.IUserPool,
        key: kms.IKey,
        retention: logs.RetentionDays,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=name,
            description="Exchange trading API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution logging needs the account's API Gateway CloudWatch role (one per region).
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
            ),
        )
        self.stage = self.api.deployment_stage
        acknowledge(
            self.api,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]": "API Gateway's account-level logging"
                " role must carry this AWS-managed policy; it writes only API logs.",
            },
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[user_pool]
        )
        self.validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        self.json_object = self.api.add_model(
            "JsonObject",
            content_type="application/json",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4, type=apigw.JsonSchemaType.OBJECT
            ),
        )
        self.api.add_usage_plan(
            "UsagePlan",
            description="Stage-wide throttle; partners get API keys on this plan",
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.stage)],
        )
        for response_type, (status, title) in _PROBLEMS.items():
            self.api.add_gateway_response(
                f"Problem{status}{title.replace(' ', '')}",
                type=response_type,
                status_code=status,
                response_headers={"Content-Type": "'application/problem+json'", **SECURITY_HEADERS},
                templates={
                    "application/json": json.dumps(
                        {
                            "type": "about:blank",
                            "title": title,
                            "status": int(status),
                            "detail": "$context.error.validationErrorString",
                        }
                    )
                },
            )

    def add_route(
        self, route: Route, handler: lambda_.IFunction, *, public_reason: str | None
    ) -> None:
        """``route.authorized`` routes take the Cognito access token: the method names the OAuth
        scopes the token must carry (``route.authorization_scopes``), and with scopes API
        Gateway's user-pool authorizer validates an access token, without them an ID token.
        Other routes are public for ``public_reason``, which is also what cdk-nag is told."""
        resource = self.api.root.resource_for_path(route.path)
        scopes = list(route.authorization_scopes)
        if route.authorized and not scopes:
            raise ValueError(f"{route.method} {route.path}: an authorized route needs its scopes")
        if not route.authorized and not public_reason:
            raise ValueError(f"{route.method} {route.path}: say why it is public")
        method = resource.add_method(
            route.method,
            apigw.LambdaIntegration(handler, allow_test_invoke=False),
            authorizer=self.authorizer if route.authorized else None,
            authorization_type=(
                apigw.AuthorizationType.COGNITO
                if route.authorized
                else apigw.AuthorizationType.NONE
            ),
            authorization_scopes=scopes or None,
            request_validator=self.validator,
            request_parameters={
                f"method.request.path.{name}": True for name in _PATH_PARAMETER.findall(route.path)
            },
            request_models=(
                {"application/json": self.json_object} if route.method in _BODY_METHODS else None
            ),
        )
        if not route.authorized:
            acknowledge(
                method,
                {
                    "AwsSolutions-APIG4": f"{route.method} {route.path}: {public_reason}",
                    "AwsSolutions-COG4": f"{route.method} {route.path}: {public_reason}",
                },
            )
