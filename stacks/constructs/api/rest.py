"""The REST API: on each private route either the Lambda REQUEST authorizer (the routes an API key
may call: a Cognito access token or a signed request) or the Cognito authorizer (access tokens, by
scope: the routes that take the user's own token only), request validation, stage throttling and a
usage plan, JSON access logs, X-Ray, and problem+json for the gateway's own 4xx answers.

CORS, for the trading console on its CloudFront origin ("CORS for REST APIs in API Gateway", API
Gateway developer guide): each resource with a route answers the browser's preflight with an
``OPTIONS`` method of its own, a MOCK integration (no Lambda runs) and no authorizer: a preflight
never carries ``Authorization`` (the Fetch standard's CORS-preflight request has no credentials),
so the REQUEST authorizer, whose identity source it is, would refuse it 401. The functions put
``Access-Control-Allow-Origin`` on their own answers (``exchange.http.cors``: a proxy integration
passes them through), and every gateway response carries it too, or a browser would hide a 401,
403, 429 or 5XX of the gateway's from the page. The origin is ``*`` without credentials, as
``exchange.http.cors`` explains: bearer tokens, never cookies; and the console's CloudFront domain
cannot be named here without a dependency cycle (the console's ``config.json`` names this API).
"""

import json
import re
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.catalog import Route
from stacks.constructs.nag import acknowledge

_PATH_PARAMETER = re.compile(r"{(\w+)}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The REQUEST authorizer's identity source: a request without the header is answered 401 before
# the authorizer runs, and the header's value is the key of the authorizer's result cache.
AUTHORIZER_IDENTITY_SOURCE: Final = "method.request.header.Authorization"
# Caching by the Authorization header is safe: an API-key request's header is unique to it (its
# timestamp) and binds the method, path, canonical query and body digest it was signed for, and
# the authorizer allows only that request's method ARN; the handler re-checks the body, query and
# source IP against the answer (exchange.http.identity). A token's answer allows the whole API,
# as the Cognito authorizer would for the same token, and is cached per token. ("Use API Gateway
# Lambda authorizers"; "Configure a Lambda authorizer": REQUEST authorizers cache by their
# identity sources, 300 s by default, at most 3600 s.)
AUTHORIZER_CACHE_SECONDS: Final = 300
# A stage throttle's token bucket refills every second: one second is the honest wait. (Over a key's
# own limit the handler answers 429 with its own Retry-After.)
THROTTLED_RETRY_AFTER_SECONDS: Final = 1
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
# Headers of one gateway response on top of the security headers (static values are quoted), by
# the response type's name (each apigw.ResponseType access is a new object).
_EXTRA_HEADERS = {
    apigw.ResponseType.THROTTLED.response_type: {
        "Retry-After": f"'{THROTTLED_RETRY_AFTER_SECONDS}'"
    },
}
# CORS, as the functions answer it (``exchange.http.cors``, which this package may not import; a
# test compares them): the origin, what a preflight allows, what a page may read, and how long a
# browser may keep a preflight's answer (browsers cap it: Chromium at 2 hours).
CORS_ALLOW_ORIGIN: Final = "*"
CORS_ALLOW_HEADERS: Final = ("Authorization", "Content-Type", "Idempotency-Key")
CORS_EXPOSE_HEADERS: Final = ("Retry-After", "Allow", "Content-Disposition")
CORS_MAX_AGE: Final = Duration.minutes(10)
CORS_HEADERS: Final = {
    "Access-Control-Allow-Origin": f"'{CORS_ALLOW_ORIGIN}'",
    "Access-Control-Expose-Headers": f"'{','.join(CORS_EXPOSE_HEADERS)}'",
}
# The gateway's other answers (a path or method it does not have: 403 Missing Authentication
# Token; 413, 504, an integration's failure, ...): their default body, with CORS.
_DEFAULTS = (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX)


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
        self.request_authorizer: apigw.RequestAuthorizer | None = None
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
            description="Stage-wide throttle (the exchange's HMAC API keys have their own per-key"
            " limit in the handlers, not API Gateway keys on this plan)",
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.stage)],
        )
        self._routed: dict[str, set[str]] = {}  # path -> its methods, for its preflight
        for default in _DEFAULTS:
            self.api.add_gateway_response(
                default.response_type.title().replace("_", ""),
                type=default,
                response_headers={**SECURITY_HEADERS, **CORS_HEADERS},
            )
        for response_type, (status, title) in _PROBLEMS.items():
            self.api.add_gateway_response(
                f"Problem{status}{title.replace(' ', '')}",
                type=response_type,
                status_code=status,
                response_headers={
                    "Content-Type": "'application/problem+json'",
                    **SECURITY_HEADERS,
                    **CORS_HEADERS,
                    **_EXTRA_HEADERS.get(response_type.response_type, {}),
                },
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

    def set_request_authorizer(self, handler: lambda_.IFunction) -> None:
        """The Lambda REQUEST authorizer of the routes an API key may call; CDK lets API Gateway
        invoke ``handler`` for this API's authorizers (a resource-based permission)."""
        self.request_authorizer = apigw.RequestAuthorizer(
            self,
            "RequestAuthorizer",
            handler=handler,
            identity_sources=[AUTHORIZER_IDENTITY_SOURCE],
            results_cache_ttl=Duration.seconds(AUTHORIZER_CACHE_SECONDS),
        )

    def add_route(
        self, route: Route, handler: lambda_.IFunction, *, public_reason: str | None
    ) -> None:
        """By ``route.authorizer``: "request" routes take the Lambda REQUEST authorizer (which
        must be set first): a Cognito access token or a request signed with an API key.
        "cognito" routes take the Cognito access token: the method names the OAuth scopes the
        token must carry (``route.authorization_scopes``), and with scopes API Gateway's user-pool
        authorizer validates an access token, without them an ID token. "none" routes are public
        for ``public_reason``, which is also what cdk-nag is told. A route of a Cognito group
        (``/v1/admin``) must be a "cognito" one: a key or no token would bypass the group check
        the handler makes on the access token's ``cognito:groups`` claim."""
        resource = self.api.root.resource_for_path(route.path)
        self._routed.setdefault(route.path, set()).add(route.method)
        scopes = list(route.authorization_scopes)
        kind = route.authorizer
        if route.group is not None and kind != "cognito":
            raise ValueError(
                f"{route.method} {route.path} is for the {route.group} group: it must take the"
                f" Cognito access token alone, not the {kind!r} authorizer"
            )
        authorizer: apigw.IAuthorizer | None
        match kind:
            case "request":
                if self.request_authorizer is None:
                    raise ValueError(
                        f"{route.method} {route.path}: set the request authorizer first"
                    )
                authorizer, authorization = self.request_authorizer, apigw.AuthorizationType.CUSTOM
            case "cognito":
                if not scopes:
                    raise ValueError(
                        f"{route.method} {route.path}: an authorized route needs its scopes"
                    )
                authorizer, authorization = self.authorizer, apigw.AuthorizationType.COGNITO
            case _:
                if not public_reason:
                    raise ValueError(f"{route.method} {route.path}: say why it is public")
                authorizer, authorization = None, apigw.AuthorizationType.NONE
        method = resource.add_method(
            route.method,
            # One invoke permission per function for this API, not one per method: the stack
            # stays under CloudFormation's 500 resources, and a function's resource policy
            # under Lambda's size limit, while only this API may invoke the function.
            apigw.LambdaIntegration(handler, scope_permission_to_method=False),
            authorizer=authorizer,
            authorization_type=authorization,
            authorization_scopes=scopes or None,
            request_validator=self.validator,
            request_parameters={
                f"method.request.path.{name}": True for name in _PATH_PARAMETER.findall(route.path)
            },
            request_models=(
                {"application/json": self.json_object} if route.method in _BODY_METHODS else None
            ),
        )
        if kind == "none":
            acknowledge(
                method,
                {
                    "AwsSolutions-APIG4": f"{route.method} {route.path}: {public_reason}",
                    "AwsSolutions-COG4": f"{route.method} {route.path}: {public_reason}",
                },
            )
        elif kind == "request":
            acknowledge(
                method,
                {
                    "AwsSolutions-COG4": f"{route.method} {route.path} takes an API key as well as"
                    " the access token, and a method has one authorizer: the Lambda authorizer"
                    " verifies the same Cognito access token (JWKS signature, issuer, expiry,"
                    " client, scope) or the key's signature, scope, IP allow-list and expiry.",
                },
            )

    def add_preflights(self) -> None:
        """An ``OPTIONS`` method on each resource with a route (after the last ``add_route``):
        a MOCK integration answering 204 with the CORS headers and the resource's own methods,
        and no authorizer (a preflight carries no ``Authorization``; the module's docstring)."""
        for path, verbs in sorted(self._routed.items()):
            preflight = self.api.root.resource_for_path(path).add_cors_preflight(
                allow_origins=[CORS_ALLOW_ORIGIN],
                allow_headers=list(CORS_ALLOW_HEADERS),
                allow_methods=sorted(verbs),
                max_age=CORS_MAX_AGE,
            )
            reason = (
                f"OPTIONS {path} answers browsers' CORS preflight from a MOCK integration (no"
                " function runs, no data is returned); a preflight carries no Authorization"
                " header, so an authorizer would refuse every one of them."
            )
            acknowledge(preflight, {"AwsSolutions-APIG4": reason, "AwsSolutions-COG4": reason})
