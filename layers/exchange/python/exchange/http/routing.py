"""One Powertools ``Router`` per REST function, made by a factory so the function's own app and
the combined app that builds the OpenAPI document each get a router of their own; and the API's
two OpenAPI security schemes.

Every private route declares ``security=AUTHORIZED`` (the access token). The routes an API key
may also call (``exchange.apikeys.scopes.ROUTE_SCOPES``) get the signature as an alternative,
and their 429, when the OpenAPI document is built (``exchange.http.openapi``), so the scopes
table stays the one place that says which routes take keys.
"""

from typing import Final

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, SecurityScheme

from exchange.apikeys.signing import SCHEME

COGNITO: Final = "CognitoAccessToken"
API_KEY_SIGNATURE: Final = "ApiKeySignature"
AUTHORIZED: Final[list[dict[str, list[str]]]] = [{COGNITO: []}]
# Either credential: OpenAPI's list of alternatives.
TOKEN_OR_KEY: Final[list[dict[str, list[str]]]] = [{COGNITO: []}, {API_KEY_SIGNATURE: []}]
SECURITY_SCHEMES: Final[dict[str, SecurityScheme]] = {
    COGNITO: APIKey(
        name="Authorization",
        in_=APIKeyIn.header,
        description="The user's Cognito access token (`Bearer <token>`, or the bare token), "
        "from the user pool's sign-in",
    ),
    API_KEY_SIGNATURE: APIKey(
        name="Authorization",
        in_=APIKeyIn.header,
        description=f"A request signed with an API key: `{SCHEME} Credential=<key id>, "
        "Timestamp=<unix ms>, Window=<ms, default 5000, at most 60000>, ContentSha256=<hex "
        "SHA-256 of the body>, Signature=<hex>`. Signature = hex HMAC-SHA256(secret, the "
        f"newline-joined `{SCHEME}`, timestamp, window, upper-case method, path below the "
        "stage (e.g. /v1/orders), canonical query (pairs sorted by name then value, each part "
        "percent-encoded except A-Z a-z 0-9 - _ . ~, joined by &) and the body's hex SHA-256). "
        "The timestamp must be within the window of the server's clock (and at most 1 s "
        "ahead). Each key has scopes (read, trade, withdraw), an optional IP allow-list, an "
        "optional expiry and its own rate limit (429 with Retry-After past it). Keys are made "
        "with POST /v1/api-keys.",
    ),
}


def new_router() -> Router:
    return Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
