"""The REST and WebSocket APIs, routed from the catalog: the Cognito authorizer, taking the access
token by its scope, on every private route and on no public one (the webhooks included),
validation, throttling, logs, X-Ray, WAF; the WebSocket $connect authorizer, called for every
connection (anonymous ones included)."""

from typing import Any

import pytest

from lambdas.catalog import ACCESS_TOKEN_SCOPE, FUNCTIONS, Need, Route, Trigger
from stacks.config import DeploymentConfig
from stacks.constructs.api.waf import MANAGED_RULE_GROUPS
from tests.infrastructure.conftest import DR, MAIN_STACKS, PRIMARY, Resources, flatten, of_type

ROUTES = [
    (spec.name, route)
    for spec in FUNCTIONS.values()
    if spec.trigger is Trigger.REST
    for route in spec.routes
]
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
    assert set(methods(resources[stack])) == {(route.method, route.path) for _, route in ROUTES}


@pytest.mark.parametrize("stack", MAIN_STACKS)
@pytest.mark.parametrize(
    ("function", "route"), ROUTES, ids=[f"{r.method} {r.path}" for _, r in ROUTES]
)
def test_private_routes_take_the_cognito_authorizer_and_public_ones_none(
    resources: dict[str, Resources], stack: str, function: str, route: Route
) -> None:
    method = methods(resources[stack])[(route.method, route.path)]
    (authorizer,) = of_type(resources[stack], "AWS::ApiGateway::Authorizer")
    if route.authorized:
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["AuthorizerId"] == {"Ref": authorizer}
        # "Control access to REST APIs using Amazon Cognito user pools as an authorizer": with
        # AuthorizationScopes on the method API Gateway validates an ACCESS token carrying one of
        # them; without, it takes only the ID token, which the client does not send.
        assert method["AuthorizationScopes"] == [ACCESS_TOKEN_SCOPE]
    else:
        assert method["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in method
        assert "AuthorizationScopes" not in method
    assert "RequestValidatorId" in method
    integration = method["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert function.replace("_", "").lower() in flatten(integration["Uri"]).lower()


def test_every_authorized_route_asks_for_the_scope_of_the_clients_access_token() -> None:
    # "Understanding the access token" (Amazon Cognito): a token from the user pool's own sign-in
    # API (InitiateAuth, as the client and the CLI sign in) carries the scope
    # aws.cognito.signin.user.admin, and only that scope.
    assert ACCESS_TOKEN_SCOPE == "aws.cognito.signin.user.admin"  # noqa: S105 - a scope
    authorized = [route for _, route in ROUTES if route.authorized]
    assert authorized
    assert {route.authorization_scopes for route in authorized} == {(ACCESS_TOKEN_SCOPE,)}


def test_the_webhooks_are_the_only_public_posts_and_each_verifies_a_signature() -> None:
    public_posts = {
        (name, route.path)
        for name, route in ROUTES
        if route.method == "POST" and not route.authorized
    }
    assert public_posts == {("deposits", "/v1/webhooks/deposits"), ("kyc", "/v1/webhooks/kyc")}
    signed = {Need.WEBHOOK_SECRET, Need.KYC_WEBHOOK_SECRET}
    assert all(FUNCTIONS[name].needs & signed for name, _ in public_posts)


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_health_is_public_and_served_by_the_health_function(
    resources: dict[str, Resources], stack: str
) -> None:
    method = methods(resources[stack])[("GET", "/v1/health")]
    assert method["AuthorizationType"] == "NONE"
    assert "healthfunction" in flatten(method["Integration"]["Uri"]).lower()


def test_the_dr_api_trusts_the_primary_user_pool(resources: dict[str, Resources]) -> None:
    # One pool for both regions: a user's sub is their account id everywhere.
    ((_, authorizer),) = of_type(resources[DR], "AWS::ApiGateway::Authorizer").items()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    (provider,) = authorizer["Properties"]["ProviderARNs"]
    assert provider["Fn::GetStackOutput"]["StackName"] == PRIMARY
    assert not of_type(resources[DR], "AWS::Cognito::UserPool")


def test_the_user_pool_signs_in_by_email_with_strong_passwords_and_optional_totp(
    resources: dict[str, Resources],
) -> None:
    ((_, pool),) = of_type(resources[PRIMARY], "AWS::Cognito::UserPool").items()
    props = pool["Properties"]
    assert props["UsernameAttributes"] == ["email"]
    assert props["MfaConfiguration"] == "OPTIONAL"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers"))
    assert props["UserPoolAddOns"]["AdvancedSecurityMode"] == "ENFORCED"
    ((_, client),) = of_type(resources[PRIMARY], "AWS::Cognito::UserPoolClient").items()
    assert set(client["Properties"]["ExplicitAuthFlows"]) >= {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_stage_throttles_logs_traces_and_has_a_usage_plan(
    resources: dict[str, Resources], config: DeploymentConfig, stack: str
) -> None:
    ((_, stage),) = of_type(resources[stack], "AWS::ApiGateway::Stage").items()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert props["AccessLogSetting"]["DestinationArn"]
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == config.api_rate_limit
    assert settings["ThrottlingBurstLimit"] == config.api_burst_limit
    (plan,) = of_type(resources[stack], "AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Throttle"]["RateLimit"] == config.api_rate_limit


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_waf_guards_the_stage_with_managed_rules_and_the_configured_rate_rule(
    resources: dict[str, Resources], config: DeploymentConfig, stack: str
) -> None:
    ((_, acl),) = of_type(resources[stack], "AWS::WAFv2::WebACL").items()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    assert set(MANAGED_RULE_GROUPS) <= set(rules)
    rate = rules["RatePerIp"]["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == config.waf_rate_limit
    assert rate["EvaluationWindowSec"] == config.waf_rate_window_seconds
    assert rate["AggregateKeyType"] == "IP"
    (association,) = of_type(resources[stack], "AWS::WAFv2::WebACLAssociation").values()
    assert "/stages/" in flatten(association["Properties"]["ResourceArn"])
    assert of_type(resources[stack], "AWS::WAFv2::LoggingConfiguration")


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_websocket_routes_come_from_the_catalog_with_the_authorizer_on_connect(
    resources: dict[str, Resources], stack: str
) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in of_type(resources[stack], "AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == set(WS_ROUTES)
    ((authorizer_id, authorizer),) = of_type(
        resources[stack], "AWS::ApiGatewayV2::Authorizer"
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
    ((_, stage),) = of_type(resources[stack], "AWS::ApiGatewayV2::Stage").items()
    props = stage["Properties"]
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == config.api_rate_limit
    assert props["AccessLogSettings"]["DestinationArn"]
    assert "$context.connectionId" in props["AccessLogSettings"]["Format"]
