"""The REST and WebSocket APIs, routed from the catalog: the Cognito authorizer on every private
route and on no public one (the deposit webhook included), validation, throttling, logs, X-Ray,
WAF; the WebSocket $connect authorizer reading the ``token`` query parameter."""

from typing import Any

import pytest

from lambdas.catalog import FUNCTIONS, Route, Trigger
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
    else:
        assert method["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in method
    assert "RequestValidatorId" in method
    integration = method["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert function.replace("_", "").lower() in flatten(integration["Uri"]).lower()


def test_the_deposit_webhook_is_the_one_public_post() -> None:
    public_posts = [r for _, r in ROUTES if r.method == "POST" and not r.authorized]
    assert [r.path for r in public_posts] == ["/v1/webhooks/deposits"]


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
    assert authorizer["Properties"]["IdentitySource"] == ["route.request.querystring.token"]
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
