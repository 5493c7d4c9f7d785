"""One Powertools ``Router`` per REST function, made by a factory so the function's own app and
the combined app that builds the OpenAPI document each get a router of their own."""

from typing import Final

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, SecurityScheme

# The OpenAPI security scheme of the routes behind the Cognito authorizer.
COGNITO: Final = "CognitoIdToken"
AUTHORIZED: Final[list[dict[str, list[str]]]] = [{COGNITO: []}]
SECURITY_SCHEMES: Final[dict[str, SecurityScheme]] = {
    COGNITO: APIKey(
        name="Authorization",
        in_=APIKeyIn.header,
        description="The Cognito ID token; API Gateway's authorizer verifies it",
    )
}


def new_router() -> Router:
    return Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
