"""The routes the catalog declares (which the CDK app deploys) are exactly the routes the
handlers serve, and the committed OpenAPI document is the one the code generates."""

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from exchange.http.openapi import build_document, main, openapi_json
from lambdas.account.handler import APP as ACCOUNT
from lambdas.admin.handler import APP as ADMIN
from lambdas.api_keys.handler import APP as API_KEYS
from lambdas.catalog import FUNCTIONS, Trigger
from lambdas.deposits.handler import APP as DEPOSITS
from lambdas.health.handler import APP as HEALTH
from lambdas.kyc.handler import APP as KYC
from lambdas.markets.handler import APP as MARKETS
from lambdas.orders.handler import APP as ORDERS

ROOT = Path(__file__).resolve().parents[3]
APPS = {
    "admin": ADMIN,
    "orders": ORDERS,
    "account": ACCOUNT,
    "markets": MARKETS,
    "deposits": DEPOSITS,
    "health": HEALTH,
    "kyc": KYC,
    "api_keys": API_KEYS,
}


def served_routes(app: APIGatewayRestResolver) -> set[tuple[str, str]]:
    paths = app.get_openapi_schema().paths or {}
    return {
        (method.upper(), path)
        for path, item in paths.items()
        for method in ("get", "post", "patch", "delete", "put")
        if getattr(item, method) is not None
    }


@pytest.mark.parametrize("name", sorted(APPS))
def test_each_function_serves_exactly_its_catalog_routes(name: str) -> None:
    spec = FUNCTIONS[name]
    assert spec.trigger is Trigger.REST
    declared = {(route.method, route.path) for route in spec.routes}
    assert served_routes(APPS[name]) == declared


def test_every_rest_function_in_the_catalog_has_a_handler_here() -> None:
    rest = {name for name, spec in FUNCTIONS.items() if spec.trigger is Trigger.REST}
    assert rest == set(APPS)


def test_authorized_routes_and_openapi_security_agree() -> None:
    document = build_document()
    for spec in FUNCTIONS.values():
        for route in spec.routes:
            operation = document["paths"][route.path][route.method.lower()]
            assert bool(operation.get("security")) == route.authorized, route


def test_committed_openapi_document_is_current() -> None:
    committed = ROOT / "docs" / "openapi.json"
    assert committed.read_text() == openapi_json(), "docs/openapi.json is stale: make openapi"


def test_the_check_mode_fails_on_a_stale_copy(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text(json.dumps({"openapi": "3.1.0"}))
    assert main([str(stale), "--check"]) == 1
    assert main([str(stale)]) == 0
    assert main([str(stale), "--check"]) == 0


def test_errors_are_documented_as_problem_json_and_no_422_default_remains() -> None:
    document = build_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        status,
                    )
    assert "HTTPValidationError" not in json.dumps(document)
