"""Typed errors of API keys.

The key-management errors (``InvalidApiKeyRequest``, ``ApiKeyNotFound``, ``TooManyApiKeys``)
become problem+json answers of ``/v1/api-keys`` (``exchange.http.routes.api_keys``). The
verification errors never reach a client as such: the authorizers turn ``KeyRejected`` into
API Gateway's 401 and ``KeyForbidden`` into a Deny policy (403), and the handlers' re-check
(``exchange.http.identity``) into 401/403 problems.
"""

from exchange.domain.errors import ExchangeError


class ApiKeyError(ExchangeError):
    code = "api_key_error"


class InvalidApiKeyRequest(ApiKeyError):
    """A key that cannot be made as asked (scopes, allow-list, expiry, rate limit)."""

    code = "invalid_api_key_request"


class ApiKeyNotFound(ApiKeyError):
    """No such key for this account (another account's key reads the same as a missing one)."""

    code = "api_key_not_found"


class TooManyApiKeys(ApiKeyError):
    code = "too_many_api_keys"


class KeyRejected(ApiKeyError):
    """The request's credentials cannot be accepted: 401. ``reason`` is for the logs only."""

    code = "unauthorized"


class KeyForbidden(ApiKeyError):
    """The key is genuine but may not do this (a scope it lacks, an address not allowed): 403."""

    code = "forbidden"
