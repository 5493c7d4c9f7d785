"""The REST and WebSocket APIs, routed from the catalog: on every private route either the Lambda
REQUEST authorizer (the routes an API key may call, ``exchange.apikeys.scopes``) or the Cognito
authorizer taking the access token by its scope (key management), on no public route (the webhooks
included); validation, throttling, logs, X-Ray, WAF, the gateway's problem+json answers; the
WebSocket $connect authorizer, called for every connection (anonymous ones included)."""

import json
from typing import Any

import pytest

from exchange.apikeys.scopes import ROUTE_SCOPES
from lambdas.catalog import ACCESS_TOKEN_SCOPE, FUNCTIONS, Need, Route, Trigger
from stacks.config import DeploymentConfig
from stacks.constructs.api.rest import (
    AUTHORIZER_CACHE_SECONDS,
    AUTHORIZER_IDENTITY_SOURCE,
    THROTTLED_RETRY_AFTER_SECONDS,
)
from stacks.constructs.api.waf import MANAGED_RULE_GROUPS
from tests.infrastructure.conftest import (
    DR,
    MAIN_STACKS,
    PRIMARY,
    Resources,
    flatten,
    of_type,
    with_nested,
)

ROUTES = [
    (spec.name, route)
    for spec in FUNCTIONS.values()
    if spec.trigger is Trigger.REST
    for route in spec.routes
]
REGION = {PRIMARY: "us-east-1", DR: "us-west-2"}
ADMIN_ROUTES = [(name, route) for name, route in ROUTES if route.path.startswith("/v1/admin/")]
WS_ROUTES = {
    route: spec.name
    for spec in FUNCTIONS.values()
    if spec.trigger is Trigger.WEBSOCKET
    for route in spec.ws_routes
}


def resource_paths(resources: Resources) -> dict[str, str]:
    """API Gateway resource logical id -> its full path, e.g. ``/v1/orders/{order_id}``."""
    parts = {
        name: (r["Properties"]["ParentId"], r["Properties"]["PathPart"])
        for name, r in of_type(resources, "AWS::ApiGateway::Resource").items()
    }

    def path(name: str) -> str:
        parent, part = parts[name]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{part}"

    return {name: path(name) for name in parts}


def methods(resources: Resources) -> dict[tuple[str, str], dict[str, Any]]:
    paths = resource_paths(resources)
    return {
        (r["Properties"]["HttpMethod"], paths[r["Properties"]["ResourceId"]["Ref"]]): r[
            "Properties"
        ]
        for r in of_type(resources, "AWS::ApiGateway::Method").values()
        if "Ref" in r["Properties"]["ResourceId"]
    }


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_every_catalog_route_exists_and_nothing_else(
    resources: dict[str, Resources], stack: str
) -> None:
    # Beside the CORS preflights (an OPTIONS per routed resource: test_cors)
    found = {key for key in methods(with_nested(resources, stack)) if key[0] != "OPTIONS"}
    assert found == {(route.method, route.path) for _, route in ROUTES}


def authorizers(resources: Resources) -> dict[str, tuple[str, dict[str, Any]]]:
    """The REST API's authorizers by type (REQUEST, COGNITO_USER_POOLS): (logical id, props)."""
    found = {
        r["Properties"]["Type"]: (name, r["Properties"])
        for name, r in of_type(resources, "AWS::ApiGateway::Authorizer").items()
    }
    assert len(found) == len(of_type(resources, "AWS::ApiGateway::Authorizer"))
    return found


@pytest.mark.parametrize("stack", MAIN_STACKS)
@pytest.mark.parametrize(
    ("function", "route"), ROUTES, ids=[f"{r.method} {r.path}" for _, r in ROUTES]
)
def test_private_routes_take_their_authorizer_and_public_ones_none(
    resources: dict[str, Resources], stack: str, function: str, route: Route
) -> None:
    method = methods(with_nested(resources, stack))[(route.method, route.path)]
    found = authorizers(with_nested(resources, stack))
    match route.authorizer:
        case "request":
            # A token or an API key: the Lambda authorizer decides, and a method with a Lambda
            # authorizer has no OAuth scopes (AuthorizationScopes apply to COGNITO_USER_POOLS
            # methods only: AWS::ApiGateway::Method).
            assert method["AuthorizationType"] == "CUSTOM"
            assert method["AuthorizerId"] == {"Ref": found["REQUEST"][0]}
            assert "AuthorizationScopes" not in method
        case "cognito":
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
            assert method["AuthorizerId"] == {"Ref": found["COGNITO_USER_POOLS"][0]}
            # "Control access to REST APIs using Amazon Cognito user pools as an authorizer":
            # with AuthorizationScopes on the method API Gateway validates an ACCESS token
            # carrying one of them; without, it takes only the ID token.
            assert method["AuthorizationScopes"] == [ACCESS_TOKEN_SCOPE]
        case _:
            assert method["AuthorizationType"] == "NONE"
            assert "AuthorizerId" not in method
            assert "AuthorizationScopes" not in method
    assert "RequestValidatorId" in method
    integration = method["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert function.replace("_", "").lower() in flatten(integration["Uri"]).lower()


def test_the_routes_an_api_key_may_call_are_exactly_the_scoped_ones() -> None:
    # Key management, the admin API, withdrawal destinations and notification preferences take
    # only the user's own token: a key never creates or revokes keys, acts as an operator, adds a
    # place money may go to, or silences the security notices that would tell of it.
    by_kind: dict[str, set[tuple[str, str]]] = {}
    for _, route in ROUTES:
        by_kind.setdefault(route.authorizer, set()).add((route.method, route.path))
    assert by_kind["request"] == set(ROUTE_SCOPES)
    assert by_kind["cognito"] == {
        ("POST", "/v1/api-keys"),
        ("GET", "/v1/api-keys"),
        ("DELETE", "/v1/api-keys/{key_id}"),
        ("POST", "/v1/withdrawal-destinations"),
        ("GET", "/v1/withdrawal-destinations"),
        ("DELETE", "/v1/withdrawal-destinations/{destination_id}"),
        ("PUT", "/v1/account/notifications"),
        *((route.method, route.path) for _, route in ADMIN_ROUTES),
    }
    assert not by_kind["none"] & set(ROUTE_SCOPES)


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_request_authorizer_is_the_rest_authorizer_keyed_and_cached_by_authorization(
    resources: dict[str, Resources], stack: str
) -> None:
    """AWS::ApiGateway::Authorizer, IdentitySource: for a REQUEST authorizer the identity sources
    are the cache key and are checked before the function runs: a request without the header
    gets 401 "without calling the Lambda function". AuthorizerResultTtlInSeconds: 300 (at most
    3600). "Use API Gateway Lambda authorizers" / "Configure a Lambda authorizer": API Gateway
    caches the policy by the identity source for the TTL, so a cached Allow must only fit the
    request whose header it is (a signed request's header binds its method, path, query and
    body digest) or the whole API for a token (which is what the Cognito authorizer allows)."""
    authorizer_id, props = authorizers(with_nested(resources, stack))["REQUEST"]
    assert props["IdentitySource"] == AUTHORIZER_IDENTITY_SOURCE
    assert AUTHORIZER_IDENTITY_SOURCE == "method.request.header.Authorization"
    assert props["AuthorizerResultTtlInSeconds"] == AUTHORIZER_CACHE_SECONDS == 300
    uri = flatten(props["AuthorizerUri"]).lower()
    assert "restauthorizerfunction" in uri
    assert uri.endswith("/invocations")
    # API Gateway may invoke the function for this API's authorizers, and nothing else may.
    function = next(
        name
        for name, r in of_type(with_nested(resources, stack), "AWS::Lambda::Function").items()
        if r["Properties"].get("FunctionName") == "exchange-prod-rest_authorizer"
    )
    permissions = [
        r["Properties"]
        for r in of_type(with_nested(resources, stack), "AWS::Lambda::Permission").values()
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}
    ]
    (permission,) = permissions
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    source = flatten(permission["SourceArn"])
    # The permission is the function's (main stack); the authorizer's ARN comes out of the REST
    # API's nested stack as one output named after the authorizer.
    (_, authorizer) = source.rsplit("/authorizers/", 1)
    assert authorizer == f"<{authorizer_id}>" or (
        ".Outputs." in authorizer and "RestRequestAuthorizer" in authorizer
    ), source


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_each_rest_function_is_invokable_by_this_api_only(
    resources: dict[str, Resources], stack: str
) -> None:
    # One permission per function, scoped to this API's ARN (any stage, method and path of it).
    ((api_id, _),) = of_type(with_nested(resources, stack), "AWS::ApiGateway::RestApi").items()
    rest = {f"exchange-prod-{name}" for name, _ in ROUTES}
    functions = {
        name: r["Properties"].get("FunctionName")
        for name, r in of_type(with_nested(resources, stack), "AWS::Lambda::Function").items()
    }
    granted: dict[str, list[str]] = {}
    for permission in of_type(with_nested(resources, stack), "AWS::Lambda::Permission").values():
        props = permission["Properties"]
        target = functions.get(props["FunctionName"].get("Fn::GetAtt", [""])[0])
        if target in rest:
            assert props["Principal"] == "apigateway.amazonaws.com"
            granted.setdefault(target, []).append(flatten(props["SourceArn"]))
    assert set(granted) == rest
    api = f"arn:aws:execute-api:{REGION[stack]}:<AWS::AccountId>:<{api_id}>/*/*/*"
    for target, arns in granted.items():
        assert arns == [api], target


def problem_responses(resources: Resources) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in of_type(resources, "AWS::ApiGateway::GatewayResponse").values()
    }


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_gateways_own_refusals_are_problem_json_and_throttling_says_when_to_retry(
    resources: dict[str, Resources], stack: str
) -> None:
    """ "Gateway response types for API Gateway": UNAUTHORIZED (401: the authorizer raised
    Unauthorized, or the identity source was missing), ACCESS_DENIED (403: a Deny policy, e.g.
    a key without the route's scope or from an address it does not allow), THROTTLED (429: the
    stage's throttle; a key over its own limit gets the handler's 429 with its own Retry-After)."""
    responses = problem_responses(with_nested(resources, stack))
    for response_type, status in (
        ("UNAUTHORIZED", 401),
        ("ACCESS_DENIED", 403),
        ("THROTTLED", 429),
    ):
        response = responses[response_type]
        assert response["StatusCode"] == str(status)
        headers = response["ResponseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert (body["status"], body["type"]) == (status, "about:blank")
    throttled = responses["THROTTLED"]["ResponseParameters"]
    assert throttled["gatewayresponse.header.Retry-After"] == f"'{THROTTLED_RETRY_AFTER_SECONDS}'"
    assert (
        "gatewayresponse.header.Retry-After" not in responses["ACCESS_DENIED"]["ResponseParameters"]
    )


def test_every_cognito_route_asks_for_the_scope_of_the_clients_access_token() -> None:
    # "Understanding the access token" (Amazon Cognito): a token from the user pool's own sign-in
    # API (InitiateAuth, as the client and the CLI sign in) carries the scope
    # aws.cognito.signin.user.admin, and only that scope.
    assert ACCESS_TOKEN_SCOPE == "aws.cognito.signin.user.admin"  # noqa: S105 - a scope
    authorized = [route for _, route in ROUTES if route.authorized]
    assert authorized
    assert {r.authorization_scopes for r in authorized if r.authorizer == "cognito"} == {
        (ACCESS_TOKEN_SCOPE,)
    }
    assert {r.authorization_scopes for r in authorized if r.authorizer == "request"} == {()}


def test_the_webhooks_are_the_only_public_posts_and_each_verifies_a_signature() -> None:
    public_posts = {
        (name, route.path)
        for name, route in ROUTES
        if route.method == "POST" and not route.authorized
    }
    assert public_posts == {
        ("deposits", "/v1/webhooks/deposits"),
        ("deposits", "/v1/webhooks/payouts"),
        ("kyc", "/v1/webhooks/kyc"),
    }
    signed = {Need.WEBHOOK_SECRET, Need.KYC_WEBHOOK_SECRET}
    assert all(FUNCTIONS[name].needs & signed for name, _ in public_posts)


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_health_is_public_and_served_by_the_health_function(
    resources: dict[str, Resources], stack: str
) -> None:
    method = methods(with_nested(resources, stack))[("GET", "/v1/health")]
    assert method["AuthorizationType"] == "NONE"
    assert "healthfunction" in flatten(method["Integration"]["Uri"]).lower()


def test_the_dr_api_trusts_the_primary_user_pool(resources: dict[str, Resources]) -> None:
    # One pool for both regions: a user's sub is their account id everywhere.
    _, authorizer = authorizers(with_nested(resources, DR))["COGNITO_USER_POOLS"]
    (provider,) = authorizer["ProviderARNs"]
    assert provider["Fn::GetStackOutput"]["StackName"] == PRIMARY
    assert not of_type(with_nested(resources, DR), "AWS::Cognito::UserPool")


def test_the_user_pool_signs_in_by_email_with_strong_passwords_and_optional_totp(
    resources: dict[str, Resources],
) -> None:
    ((_, pool),) = of_type(with_nested(resources, PRIMARY), "AWS::Cognito::UserPool").items()
    props = pool["Properties"]
    assert props["UsernameAttributes"] == ["email"]
    assert props["MfaConfiguration"] == "OPTIONAL"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers"))
    assert props["UserPoolAddOns"]["AdvancedSecurityMode"] == "ENFORCED"
    ((_, client),) = of_type(
        with_nested(resources, PRIMARY), "AWS::Cognito::UserPoolClient"
    ).items()
    assert set(client["Properties"]["ExplicitAuthFlows"]) >= {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_stage_throttles_logs_traces_and_has_a_usage_plan(
    resources: dict[str, Resources], config: DeploymentConfig, stack: str
) -> None:
    ((_, stage),) = of_type(with_nested(resources, stack), "AWS::ApiGateway::Stage").items()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert props["AccessLogSetting"]["DestinationArn"]
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == config.api_rate_limit
    assert settings["ThrottlingBurstLimit"] == config.api_burst_limit
    (plan,) = of_type(with_nested(resources, stack), "AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Throttle"]["RateLimit"] == config.api_rate_limit


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_waf_guards_the_stage_with_managed_rules_and_the_configured_rate_rule(
    resources: dict[str, Resources], config: DeploymentConfig, stack: str
) -> None:
    ((_, acl),) = of_type(with_nested(resources, stack), "AWS::WAFv2::WebACL").items()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    assert set(MANAGED_RULE_GROUPS) <= set(rules)
    rate = rules["RatePerIp"]["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == config.waf_rate_limit
    assert rate["EvaluationWindowSec"] == config.waf_rate_window_seconds
    assert rate["AggregateKeyType"] == "IP"
    (association,) = of_type(
        with_nested(resources, stack), "AWS::WAFv2::WebACLAssociation"
    ).values()
    assert "/stages/" in flatten(association["Properties"]["ResourceArn"])
    assert of_type(with_nested(resources, stack), "AWS::WAFv2::LoggingConfiguration")


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_websocket_routes_come_from_the_catalog_with_the_authorizer_on_connect(
    resources: dict[str, Resources], stack: str
) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in of_type(with_nested(resources, stack), "AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == set(WS_ROUTES)
    ((authorizer_id, authorizer),) = of_type(
        with_nested(resources, stack), "AWS::ApiGatewayV2::Authorizer"
    ).items()
    assert authorizer["Properties"]["AuthorizerType"] == "REQUEST"
    # No identity source, so API Gateway calls the authorizer for every $connect, anonymous ones
    # included: with one, a connection lacking it is answered 401 without calling the function
    # (AWS::ApiGatewayV2::Authorizer, IdentitySource: "For a REQUEST authorizer, this is
    # optional ... Otherwise, it returns a 401 Unauthorized response without calling the Lambda
    # function"; "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers").
    assert "IdentitySource" not in authorizer["Properties"]
    assert "wsauthorizer" in flatten(authorizer["Properties"]["AuthorizerUri"]).lower()
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$connect"]["AuthorizerId"] == {"Ref": authorizer_id}
    for key, route in routes.items():
        if key != "$connect":
            assert route.get("AuthorizationType", "NONE") == "NONE", key


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_websocket_stage_throttles_and_logs(
    resources: dict[str, Resources], config: DeploymentConfig, stack: str
) -> None:
    ((_, stage),) = of_type(with_nested(resources, stack), "AWS::ApiGatewayV2::Stage").items()
    props = stage["Properties"]
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == config.api_rate_limit
    assert props["AccessLogSettings"]["DestinationArn"]
    assert "$context.connectionId" in props["AccessLogSettings"]["Format"]
