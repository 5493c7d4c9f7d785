"""What local mode reads from the synthesized template: the REST Lambda authorizer of each CUSTOM
method, the gateway responses, the SQS queues and their event source mappings.

CloudFormation's shapes and defaults ("AWS::ApiGateway::Authorizer": ``IdentitySource`` is a
comma-separated string, ``AuthorizerResultTtlInSeconds`` defaults to 300 and 0 turns caching off;
"AWS::Lambda::EventSourceMapping": an SQS mapping's ``BatchSize`` defaults to 10,
``FunctionResponseTypes`` may hold ``ReportBatchItemFailures``; "AWS::SQS::Queue":
``RedrivePolicy`` names the dead-letter queue's ARN and ``maxReceiveCount``). The fragments below
are what CDK synthesizes for ``RequestAuthorizer``, ``SqsEventSource`` and ``sqs.Queue``.
"""

import re
from typing import Any

import pytest

from exchange.apikeys.scopes import ROUTE_SCOPES
from lambdas.catalog import ACCESS_TOKEN_SCOPE, FUNCTIONS, Trigger
from local.cfn import TemplateError
from local.gateway.routes import RestRoutes
from local.template import Deployment
from local.template_api import DeployedAuthorizer, DeployedMethod, gateway_responses, methods
from local.template_queues import queue_mappings, queues

BY_LOGICAL = {"AuthFn": "rest_authorizer", "OrdersFn": "orders", "TimersFn": "cancel_after"}
AUTHORIZER_URI = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Fn::Select": [1, {"Fn::Split": [":", {"Fn::GetAtt": ["AuthFn", "Arn"]}]}]},
            ":apigateway:",
            {"Fn::Select": [3, {"Fn::Split": [":", {"Fn::GetAtt": ["AuthFn", "Arn"]}]}]},
            ":lambda:path/2015-03-31/functions/",
            {"Fn::GetAtt": ["AuthFn", "Arn"]},
            "/invocations",
        ],
    ]
}


def api(authorizer: dict[str, Any], authorization_type: str = "CUSTOM") -> dict[str, Any]:
    return {
        "V1": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"PathPart": "v1", "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]}},
        },
        "Orders": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"PathPart": "orders", "ParentId": {"Ref": "V1"}},
        },
        "Authorizer": {"Type": "AWS::ApiGateway::Authorizer", "Properties": authorizer},
        "OrdersGet": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "AuthorizationType": authorization_type,
                "AuthorizerId": {"Ref": "Authorizer"},
                "HttpMethod": "GET",
                "Integration": {
                    "Type": "AWS_PROXY",
                    "Uri": {"Fn::Join": ["", ["arn:", {"Fn::GetAtt": ["OrdersFn", "Arn"]}]]},
                },
                "ResourceId": {"Ref": "Orders"},
            },
        },
    }


def test_a_custom_method_reads_its_request_authorizer() -> None:
    resources = api(
        {
            "AuthorizerResultTtlInSeconds": 300,
            "AuthorizerUri": AUTHORIZER_URI,
            "IdentitySource": "method.request.header.Authorization",
            "Type": "REQUEST",
        }
    )
    (method,) = methods(resources, BY_LOGICAL)
    assert (method.method, method.path, method.function) == ("GET", "/v1/orders", "orders")
    assert method.authorization_type == "CUSTOM"
    assert method.authorizer == DeployedAuthorizer(
        "REQUEST", "rest_authorizer", ("method.request.header.Authorization",), 300
    )


def test_an_authorizer_without_a_ttl_caches_300_s_and_sources_split_on_commas() -> None:
    resources = api(
        {
            "AuthorizerUri": AUTHORIZER_URI,
            "IdentitySource": "method.request.header.Authorization, method.request.querystring.k",
            "Type": "REQUEST",
        }
    )
    (method,) = methods(resources, BY_LOGICAL)
    assert method.authorizer is not None
    assert method.authorizer.ttl_seconds == 300
    assert method.authorizer.identity_sources == (
        "method.request.header.Authorization",
        "method.request.querystring.k",
    )


def test_a_request_authorizer_outside_the_catalog_stops_the_stack() -> None:
    resources = api({"AuthorizerUri": {"Fn::GetAtt": ["Elsewhere", "Arn"]}, "Type": "REQUEST"})
    with pytest.raises(TemplateError, match="not in the catalog"):
        list(methods(resources, BY_LOGICAL))


@pytest.mark.parametrize(
    ("authorizer", "authorization_type"),
    [
        (
            {
                "AuthorizerUri": AUTHORIZER_URI,
                "Type": "TOKEN",
                "IdentitySource": "method.request.header.A",
            },
            "CUSTOM",
        ),
        (
            {
                "AuthorizerUri": AUTHORIZER_URI,
                "Type": "REQUEST",
                "IdentitySource": "stageVariables.k",
            },
            "CUSTOM",
        ),
        ({"Type": "COGNITO_USER_POOLS"}, "AWS_IAM"),
    ],
)
def test_authorization_local_mode_has_no_twin_for_is_refused(
    authorizer: dict[str, Any], authorization_type: str
) -> None:
    (method,) = methods(api(authorizer, authorization_type), BY_LOGICAL)
    deployment = Deployment(functions={}, methods=(method,), websocket=None, mappings=())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no local twin"):
        RestRoutes.from_deployment(deployment)


def test_the_timer_queue_its_dead_letters_and_its_mapping() -> None:
    resources: dict[str, dict[str, Any]] = {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Timers": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                    "maxReceiveCount": 5,
                },
                "VisibilityTimeout": 360,
                "KmsMasterKeyId": {"Fn::GetStackOutput": {"OutputName": "DataKeyArn"}},
            },
        },
        "TimersMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "BatchSize": 10,
                "EventSourceArn": {"Fn::GetAtt": ["Timers", "Arn"]},
                "FunctionName": {"Ref": "TimersFn"},
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        },
    }
    found = queues(resources)
    assert found["Timers"].attributes == {"VisibilityTimeout": "360"}
    assert (found["Timers"].dead_letter_queue, found["Timers"].max_receive_count) == ("Dlq", 5)
    assert found["Timers"].visibility_timeout_s == 360
    assert found["Dlq"].visibility_timeout_s == 30  # CloudFormation's default
    (mapping,) = queue_mappings(resources, BY_LOGICAL)
    assert (mapping.function, mapping.queue, mapping.batch_size) == ("cancel_after", "Timers", 10)
    assert mapping.report_item_failures is True
    resources["TimersMapping"]["Properties"]["FilterCriteria"] = {"Filters": [{"Pattern": "{}"}]}
    with pytest.raises(TemplateError, match="FilterCriteria"):
        list(queue_mappings(resources, BY_LOGICAL))


def test_gateway_response_headers_are_unquoted() -> None:
    responses = gateway_responses(
        {
            "P": {
                "Type": "AWS::ApiGateway::GatewayResponse",
                "Properties": {
                    "ResponseType": "UNAUTHORIZED",
                    "StatusCode": "401",
                    "ResponseParameters": {
                        "gatewayresponse.header.Content-Type": "'application/problem+json'"
                    },
                    "ResponseTemplates": {"application/json": '{"title": "Unauthorized"}'},
                },
            }
        }
    )
    assert responses["UNAUTHORIZED"].headers == {"Content-Type": "application/problem+json"}
    assert responses["UNAUTHORIZED"].status == 401


# --- the CDK app's template ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.load()  # synthesized once, then cached under .cache/local


def _by_route(deployment: Deployment) -> dict[tuple[str, str], DeployedMethod]:
    return {(m.method, m.path): m for m in deployment.methods}


def test_key_capable_methods_have_the_rest_authorizer_as_deployed(deployment: Deployment) -> None:
    found = _by_route(deployment)
    for route in ROUTE_SCOPES:
        method = found[route]
        assert method.authorization_type == "CUSTOM", route
        assert method.authorizer == DeployedAuthorizer(
            "REQUEST", "rest_authorizer", ("method.request.header.Authorization",), 300
        )
        assert method.scopes == ()
    expected = {"none": "NONE", "cognito": "COGNITO_USER_POOLS", "request": "CUSTOM"}
    for spec in FUNCTIONS.values():
        for catalog_route in spec.routes:
            method = found[catalog_route.method, catalog_route.path]
            assert method.authorization_type == expected[catalog_route.authorizer], catalog_route


def test_the_deployed_routes_are_all_served(deployment: Deployment) -> None:
    table = RestRoutes.from_deployment(deployment)
    match = table.match("GET", "/v1/orders/cancel-after")
    assert match is not None
    assert (match.resource, match.authorization) == ("/v1/orders/cancel-after", "CUSTOM")
    api_keys = table.match("POST", "/v1/api-keys")
    assert api_keys is not None
    assert api_keys.authorization == "COGNITO_USER_POOLS"


def test_cancel_after_reads_the_queue_the_orders_function_sends_to(
    deployment: Deployment,
) -> None:
    mapping = deployment.queue_mapping_of("cancel_after")
    assert mapping.report_item_failures is True
    sent_to = deployment.functions["orders"].environment["EXCHANGE_CANCEL_AFTER_QUEUE_URL"]
    assert sent_to == {"Ref": mapping.queue}
    queue = deployment.queues[mapping.queue]
    assert queue.dead_letter_queue in deployment.queues
    # Lambda refuses a mapping whose function timeout exceeds the queue's visibility timeout.
    assert queue.visibility_timeout_s >= deployment.functions["cancel_after"].timeout_seconds


def test_the_gateway_answers_401_and_403_in_problem_json(deployment: Deployment) -> None:
    for kind in ("UNAUTHORIZED", "ACCESS_DENIED"):
        response = deployment.gateway_responses[kind]
        assert response.headers["Content-Type"] == "application/problem+json"
        assert '"title"' in response.templates["application/json"]


def test_every_scheduled_function_runs_locally_at_its_deployed_rate(deployment: Deployment) -> None:
    # The reconciliation every 15 minutes and the dividends every minute, as the catalog says and
    # the CDK app deploys; local mode reads the rate from the rule, not from the catalog.
    deployed = {rule.function: rule for rule in deployment.schedules}
    for spec in FUNCTIONS.values():
        if spec.trigger is Trigger.SCHEDULE:
            assert spec.every_minutes is not None, spec.name
            assert deployed[spec.name].every_s == spec.every_minutes * 60, spec.name
            assert deployed[spec.name].enabled, spec.name
    assert deployed["reconciliation"].every_s == 900
    assert deployed["dividends"].every_s == 60


def test_the_admin_api_is_served_only_behind_the_cognito_authorizer_with_the_scope(
    deployment: Deployment,
) -> None:
    # Never more open locally than deployed: every /v1/admin method takes an access token with
    # the scope (the handler then checks the operators group); none takes an API key.
    table = RestRoutes.from_deployment(deployment)
    admin = [m for m in deployment.methods if m.path.startswith("/v1/admin")]
    assert {(m.method, m.path) for m in admin} == {
        (r.method, r.path) for r in FUNCTIONS["admin"].routes
    }
    for method in admin:
        match = table.match(method.method, re.sub(r"\{\w+\}", "x", method.path))
        assert match is not None, method
        assert (match.function, match.authorization) == ("admin", "COGNITO_USER_POOLS")
        assert match.scopes == (ACCESS_TOKEN_SCOPE,)
