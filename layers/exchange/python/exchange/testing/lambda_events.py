"""API Gateway REST proxy events and a Lambda context, for tests, the benchmark and local tools.

>>> event = rest_event("GET", "/v1/orders/01HF", account_id="alice", resource="/v1/orders/{id}")
>>> event["requestContext"]["authorizer"]["claims"]["sub"], event["resource"]
('alice', '/v1/orders/{id}')
"""

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LambdaContextStub:
    """What Powertools reads from a Lambda context."""

    function_name: str = "exchange-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:exchange-local"
    aws_request_id: str = "local"
    log_group_name: str = "/aws/lambda/exchange-local"
    log_stream_name: str = "local"
    remaining_ms: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def rest_event(
    method: str,
    path: str,
    *,
    body: str | bytes | Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    account_id: str | None = None,
    claims: Mapping[str, str] | None = None,
    base64_body: bool = False,
    request_id: str | None = None,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event as the Cognito-authorized API would send it.

    ``body`` may be a mapping (sent as JSON), text, or bytes (sent base64-encoded).
    """
    resource = resource or path
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    text: str | None
    if isinstance(body, Mapping):
        text = json.dumps(body)
    elif isinstance(body, bytes):
        text, base64_body = base64.b64encode(body).decode(), True
    else:
        text = body
    authorizer: dict[str, Any] = {}
    if account_id is not None or claims:
        authorizer["claims"] = {**({"sub": account_id} if account_id else {}), **(claims or {})}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(all_headers),
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": request_id or str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": authorizer,
        },
        "body": text,
        "isBase64Encoded": base64_body,
    }
