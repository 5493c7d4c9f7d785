"""The OpenAPI document's side of API keys: the two security schemes, the key-capable operations
(``ROUTE_SCOPES``) offering either credential with the scope a key needs and a 429 with
``Retry-After``, and the key-management operations taking the access token only."""

from exchange.apikeys.scopes import ROUTE_SCOPES
from exchange.http.openapi import build_document
from exchange.http.routing import API_KEY_SIGNATURE, COGNITO


def test_both_security_schemes_are_declared() -> None:
    schemes = build_document()["components"]["securitySchemes"]
    assert schemes[COGNITO]["in"] == schemes[API_KEY_SIGNATURE]["in"] == "header"
    assert "EXCHANGE-HMAC-SHA256" in schemes[API_KEY_SIGNATURE]["description"]


def test_every_key_capable_operation_takes_either_credential_and_declares_its_429() -> None:
    paths = build_document()["paths"]
    served = {(m.upper(), p) for p, item in paths.items() for m in item}
    for method, path in ROUTE_SCOPES:
        if (method, path) not in served:
            continue  # a route another function has yet to serve
        operation = paths[path][method.lower()]
        assert operation["security"] == [{COGNITO: []}, {API_KEY_SIGNATURE: []}]
        assert operation["x-api-key-scope"] == ROUTE_SCOPES[(method, path)]
        limited = operation["responses"]["429"]
        assert limited["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
        assert list(limited["content"]) == ["application/problem+json"]
        assert list(operation["responses"]["403"]["content"]) == ["application/problem+json"]
    assert ("POST", "/v1/orders") in served


def test_key_management_takes_the_access_token_only() -> None:
    paths = build_document()["paths"]
    for method, path in [
        ("post", "/v1/api-keys"),
        ("get", "/v1/api-keys"),
        ("delete", "/v1/api-keys/{key_id}"),
    ]:
        operation = paths[path][method]
        assert operation["security"] == [{COGNITO: []}]
        assert "429" not in operation["responses"]
        assert "x-api-key-scope" not in operation
    assert "201" in paths["/v1/api-keys"]["post"]["responses"]


def test_public_operations_stay_public() -> None:
    paths = build_document()["paths"]
    assert "security" not in paths["/v1/markets"]["get"]
