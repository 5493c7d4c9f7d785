"""The REST API's own answers (gateway responses), as deployed.

When API Gateway itself refuses or fails a request, it answers with the gateway response of that
type ("Gateway response types for API Gateway", API Gateway developer guide): the API's
customized one when the template has it (``AWS::ApiGateway::GatewayResponse``; the CDK app gives
401 and 403 a problem+json body), else the API's ``DEFAULT_4XX``/``DEFAULT_5XX`` customization,
else AWS's default, ``{"message":$context.error.messageString}``. A customized
``DEFAULT_4XX``/``DEFAULT_5XX`` status applies to every type of its class not customized itself.

>>> answer = GatewayResponses().answer("UNAUTHORIZED")
>>> answer.status, answer.body
(401, b'{"message":"Unauthorized"}')
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from local.gateway.events import HttpResponse
from local.template_api import DeployedGatewayResponse

DEFAULT_TEMPLATE: Final = '{"message":$context.error.messageString}'


@dataclass(frozen=True, slots=True)
class _Type:
    status: int
    message: str | None  # $context.error.message
    error_type: str | None  # the x-amzn-ErrorType header
    customizable: bool = True  # a gateway response type (a template may customize it)


# The types local mode answers with: default status, message and error type.
TYPES: Final[Mapping[str, _Type]] = {
    "UNAUTHORIZED": _Type(401, "Unauthorized", "UnauthorizedException"),
    "ACCESS_DENIED": _Type(
        403, "User is not authorized to access this resource", "AccessDeniedException"
    ),
    "MISSING_AUTHENTICATION_TOKEN": _Type(
        403, "Missing Authentication Token", "MissingAuthenticationTokenException"
    ),
    "REQUEST_TOO_LARGE": _Type(413, "Request Too Long", "RequestTooLargeException"),
    # Not a gateway response type: "Output from an API Gateway Lambda authorizer" documents the
    # 414 for an authorization-enabled method ARN over 1600 bytes, not its body or error type
    # (this message and the missing x-amzn-ErrorType are the twin's own).
    "REQUEST_URI_TOO_LONG": _Type(414, "Request URI too long", None, customizable=False),
    # A Lambda authorizer that fails or answers malformed: API Gateway's 500 with
    # ``x-amzn-ErrorType: AuthorizerConfigurationException`` and a null message.
    "AUTHORIZER_CONFIGURATION_ERROR": _Type(500, None, "AuthorizerConfigurationException"),
    "AUTHORIZER_FAILURE": _Type(500, None, "AuthorizerFailureException"),
    "DEFAULT_5XX": _Type(502, "Internal server error", "InternalServerErrorException"),
    "INTEGRATION_TIMEOUT": _Type(504, "Endpoint request timed out", "IntegrationTimeout"),
}


class GatewayResponses:
    def __init__(self, deployed: Mapping[str, DeployedGatewayResponse] | None = None) -> None:
        self._deployed = dict(deployed or {})

    def answer(
        self, response_type: str, message: str | None = None, *, status: int | None = None
    ) -> HttpResponse:
        """The gateway response of ``response_type``; ``message`` in place of the type's default
        message (e.g. an explicit deny's), ``status`` in place of its default status (the
        ``DEFAULT_5XX`` type serves several)."""
        kind = TYPES[response_type]
        text = kind.message if message is None else message
        fallback = self._deployed.get("DEFAULT_5XX" if kind.status >= 500 else "DEFAULT_4XX")
        custom = self._deployed.get(response_type) or fallback
        if not kind.customizable:
            fallback = custom = None
        code = status or kind.status
        if custom is not None and custom.status is not None:
            code = custom.status
        elif fallback is not None and fallback.status is not None:
            code = fallback.status
        headers = {"Content-Type": "application/json"}
        if kind.error_type is not None:
            headers["x-amzn-ErrorType"] = kind.error_type
        template = DEFAULT_TEMPLATE
        if custom is not None:
            headers.update(custom.headers)
            template = custom.templates.get("application/json", template)
        body = _render(template, response_type, text)
        return HttpResponse(code, tuple(headers.items()), body.encode())


def _render(template: str, response_type: str, message: str | None) -> str:
    """The few ``$context`` variables gateway response templates here use."""
    return (
        template.replace("$context.error.messageString", json.dumps(message))
        .replace("$context.error.message", message or "")
        .replace("$context.error.validationErrorString", "")
        .replace("$context.error.responseType", response_type)
    )
