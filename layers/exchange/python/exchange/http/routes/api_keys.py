"""Routes of the api_keys function: create, list and revoke the caller's API keys.

Behind the Cognito authorizer only (the user's access token): a key can neither make nor revoke
keys. The logic is ``exchange.apikeys.service``; its errors become problems here.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from exchange.apikeys.errors import ApiKeyNotFound, InvalidApiKeyRequest, TooManyApiKeys
from exchange.apikeys.model import KEY_ID_PATTERN, KeySpec
from exchange.apikeys.service import ApiKeyService
from exchange.http.app import service
from exchange.http.identity import Caller, caller
from exchange.http.key_schemas import ApiKeyCreated, ApiKeyList, ApiKeyOut, CreateApiKeyBody
from exchange.http.problems import HttpProblem, NotFound, responses
from exchange.http.routing import AUTHORIZED, new_router

KeyIdPath = Annotated[str, Path(pattern=KEY_ID_PATTERN, description="The key's id (ak_...)")]


class InvalidKeyRequest(HttpProblem):
    code = "invalid_api_key_request"
    status = HTTPStatus.BAD_REQUEST


class KeyNotFound(NotFound):
    code = "api_key_not_found"


class TooManyKeys(HttpProblem):
    code = "too_many_api_keys"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


@contextmanager
def _as_problems() -> Iterator[None]:
    try:
        yield
    except InvalidApiKeyRequest as exc:
        raise InvalidKeyRequest(str(exc)) from exc
    except ApiKeyNotFound as exc:
        raise KeyNotFound(str(exc)) from exc
    except TooManyApiKeys as exc:
        raise TooManyKeys(str(exc)) from exc


def api_keys_router() -> Router:
    router = new_router()

    def keys() -> ApiKeyService:
        return service(router, ApiKeyService)

    def me() -> Caller:
        return caller(router.current_event)

    @router.post(
        "/v1/api-keys",
        status_code=201,
        summary="Create an API key",
        description="A key for a program: its scopes (read, trade, withdraw), an optional IP "
        "allow-list, an optional expiry and an optional rate limit. The answer carries the "
        "key's secret, shown this once and stored only encrypted (KMS): keep it. Sign requests "
        "with it (see the ApiKeySignature security scheme). The creation is recorded in the "
        "account's audit log. 422: the account has the most active keys allowed.",
        responses=responses(201, "Created; the secret is in this answer only", 401, 413, 415, 422),
        tags=["api-keys"],
        security=AUTHORIZED,
    )
    def create_api_key(body: CreateApiKeyBody) -> ApiKeyCreated:
        who = me()
        spec = KeySpec(
            label=body.label,
            scopes=tuple(body.scopes),
            allowed_ips=None if body.allowed_ips is None else tuple(body.allowed_ips),
            expires_ns=body.expires_ns(),
            rate_limit_per_second=body.rate_limit_per_second,
        )
        with _as_problems():
            created = keys().create(who.account_id, who.username, spec)
        return ApiKeyCreated.made(created.key, created.secret, now_ns=time.time_ns())

    @router.get(
        "/v1/api-keys",
        summary="List your API keys",
        description="Newest first, revoked and expired keys included (with status, revoked_at "
        "and expires_at); never a secret.",
        responses=responses(200, "Your keys", 401),
        tags=["api-keys"],
        security=AUTHORIZED,
    )
    def list_api_keys() -> ApiKeyList:
        now_ns = time.time_ns()
        return ApiKeyList(
            keys=[ApiKeyOut.of(key, now_ns=now_ns) for key in keys().list_keys(me().account_id)]
        )

    @router.delete(
        "/v1/api-keys/<key_id>",
        summary="Revoke an API key",
        description="From the next request on, the key is refused (401). Idempotent: revoking "
        "a revoked key answers it unchanged. A revoked key stays listed. The revocation is "
        "recorded in the account's audit log.",
        responses=responses(200, "The revoked key", 401, 404),
        tags=["api-keys"],
        security=AUTHORIZED,
    )
    def revoke_api_key(key_id: KeyIdPath) -> ApiKeyOut:
        with _as_problems():
            key = keys().revoke(me().account_id, key_id)
        return ApiKeyOut.of(key, now_ns=time.time_ns())

    return router
