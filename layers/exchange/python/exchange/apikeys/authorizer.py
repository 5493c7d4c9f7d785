"""The REST API's Lambda REQUEST authorizer: the user's Cognito access token, or a request signed
with an API key. ``lambdas/rest_authorizer/handler.py`` is its thin handler; the local gateway
calls that handler with the same event.

The event (REQUEST type; "Input to an API Gateway Lambda authorizer", API Gateway developer
guide) carries no body::

    {
      "type": "REQUEST",
      "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/v1/orders",
      "resource": "/v1/orders/{order_id}",      # the route's template
      "path": "/v1/orders/01HF...",             # below the stage
      "httpMethod": "GET",
      "headers": {"Authorization": "...", ...}, "multiValueHeaders": {...},
      "queryStringParameters": {...} | null, "multiValueQueryStringParameters": {...} | null,
      "pathParameters": {...} | null, "stageVariables": {...} | null,
      "requestContext": {"identity": {"sourceIp": "203.0.113.7", ...}, "stage": "prod", ...}
    }

The identity source is the ``Authorization`` header (a request without it gets 401 before this
runs), and the answer is cached 300 s by that header ("Use API Gateway Lambda authorizers").

- ``Bearer <access token>`` (or the bare token, as the Cognito authorizer takes it): RS256 from the
  pool's JWKS, its issuer, not expired (``TokenVerifier.claims``); ``token_use`` access, issued
  to our app client, with the sign-in scope. Allow ``<api>/<stage>/*/*``: the cached answer is
  reused for any method the token calls.
- ``EXCHANGE-HMAC-SHA256 ...`` (``signing``): ``KeyVerifier.verify_request``. Allow only the exact
  ``methodArn``: a signature is good for one request.
- A bad, missing, expired, stale, revoked or unknown credential:
  ``raise Exception("Unauthorized")``, which API Gateway answers with 401 ("Output from an API
  Gateway Lambda authorizer", and the Lambda authorizer examples of "Use API Gateway Lambda
  authorizers"). A key without the route's scope, or used from an address outside its
  allow-list: a Deny policy, answered 403. An outage
  (the JWKS, DynamoDB, KMS) raises its own error: API Gateway answers 500, never a false 401.

The ``context`` holds strings only (API Gateway refuses objects and arrays there; the output page
above) and reaches the integration as ``requestContext.authorizer``: ``account_id``,
``username`` (may be ""), ``auth`` (``token`` | ``api_key``), ``expires_at`` (unix seconds; ""
when the key never expires) and, for a key, ``key_id``, ``scopes`` (space-separated),
``rate_limit`` (requests per second), ``allowed_ips`` (comma-separated CIDRs, "" for any),
``signed_request`` (``<METHOD> <path>?<canonical query>``) and ``content_sha256``: what the
handler re-checks the request against (``exchange.http.identity``), since a cached answer is
reused for any request with the same header.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from exchange.apikeys import signing
from exchange.apikeys.binding import header_of, query_of, request_line, source_ip_of
from exchange.apikeys.errors import KeyForbidden, KeyRejected
from exchange.apikeys.verifier import KeyVerifier
from exchange.observability import logger, metrics
from exchange.realtime.auth import InvalidToken, TokenVerifier

# The error message API Gateway turns into 401 (any other failure of the function is a 500).
UNAUTHORIZED: Final = "Unauthorized"
_BEARER: Final = re.compile(r"bearer\s+(\S+)", re.IGNORECASE)
_ACCOUNT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RestAuthorizer:
    tokens: TokenVerifier
    client_id: str  # the app client an access token must be issued to
    token_scope: str  # the scope an access token must carry
    keys: KeyVerifier

    def authorize(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The policy for the request ``event`` describes; raises ``Exception("Unauthorized")``
        for a 401."""
        method_arn = str(event["methodArn"])
        authorization = header_of(event, "Authorization") or ""
        via = "ApiKey" if signing.is_signed(authorization) else "Token"
        try:
            if via == "ApiKey":
                answer = self._with_key(event, method_arn, authorization)
            else:
                answer = self._with_token(method_arn, authorization)
        except KeyForbidden as exc:
            _count(f"{via}Denied")
            logger.info("request denied", extra={"reason": str(exc), "auth": via})
            return _policy("denied", "Deny", method_arn, {})
        except (KeyRejected, InvalidToken) as exc:
            _count(f"{via}Refused")
            logger.info("request unauthorized", extra={"reason": str(exc), "auth": via})
            raise Exception(UNAUTHORIZED) from exc
        _count(f"{via}Authorized")
        return answer

    def _with_token(self, method_arn: str, authorization: str) -> dict[str, Any]:
        found = _BEARER.fullmatch(authorization.strip())
        token = found[1] if found else authorization.strip()
        if not token:
            raise InvalidToken("no token")
        claims = self.tokens.claims(token)
        if claims["token_use"] != "access":  # noqa: S105 - a claim value
            raise InvalidToken(f"token_use is {claims['token_use']!r}; an access token is needed")
        if claims.get("client_id") != self.client_id:
            raise InvalidToken("the token was issued to another app client")
        if self.token_scope not in str(claims.get("scope", "")).split():
            raise InvalidToken(f"the token lacks the scope {self.token_scope}")
        account_id = str(claims["sub"])
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise InvalidToken("the token's sub is not an account id")
        username = claims.get("username")
        context = {
            "account_id": account_id,
            "username": username if isinstance(username, str) else "",
            "auth": "token",
            "expires_at": str(int(claims["exp"])),
        }
        return _policy(account_id, "Allow", _every_method(method_arn), context)

    def _with_key(
        self, event: Mapping[str, Any], method_arn: str, authorization: str
    ) -> dict[str, Any]:
        method, path = str(event.get("httpMethod", "")), str(event.get("path", ""))
        query = query_of(event)
        verified = self.keys.verify_request(
            authorization,
            method=method,
            path=path,
            resource=str(event.get("resource", "")),
            query=query,
            source_ip=source_ip_of(event),
        )
        key = verified.key
        context = {
            "account_id": key.account_id,
            "username": key.username or "",
            "auth": "api_key",
            "expires_at": "" if key.expires_ns is None else str(key.expires_ns // _NS_PER_S),
            "key_id": key.key_id,
            "scopes": " ".join(key.scopes),
            "rate_limit": str(key.rate_limit_per_second),
            "allowed_ips": ",".join(key.allowed_ips or ()),
            "signed_request": request_line(method, path, query),
            "content_sha256": verified.signed.content_sha256,
        }
        return _policy(key.account_id, "Allow", method_arn, context)


def _every_method(method_arn: str) -> str:
    """``arn:...:<api>/<stage>/*/*`` from a method's ARN (``.../<stage>/<verb>/<path>``)."""
    api, stage, rest = [*method_arn.split("/", 2), "", ""][:3]
    if not (api.startswith("arn:") and stage and rest):
        raise ValueError(f"not a method ARN: {method_arn!r}")
    return f"{api}/{stage}/*/*"


def _policy(
    principal: str, effect: str, resource: str, context: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": dict(context),
    }


def _count(name: str) -> None:
    metrics.add_metric(name=f"RestAuthorizer{name}", unit=MetricUnit.Count, value=1)
