"""CORS on the REST API's own answers, so a page on another origin (the trading console, served by
CloudFront) may read them.

API Gateway answers the browser's preflight (the ``OPTIONS`` methods of the CDK app, MOCK
integrations: ``stacks.constructs.api.rest``); with a Lambda proxy integration the function must
put ``Access-Control-Allow-Origin`` on every actual answer itself ("CORS for REST APIs in API
Gateway", API Gateway developer guide: "Enabling CORS support for Lambda or HTTP proxy
integrations"). ``rest_app`` gives its resolver ``CORS`` (Powertools adds the headers to every
route's answer, its error handlers' included) and ``serve`` adds ``cors_headers`` to the answers it
makes before the resolver runs (413/415, and admission's 401/403/429).

The origin is ``*``, without credentials: the API authenticates by the bearer token (or the API
key's signature) in ``Authorization``, never by a cookie, so a page on another origin learns
nothing it could not fetch with the same token from anywhere else; and the console's origin is a
CloudFront domain the API cannot name without depending on the console, which depends on the API
(its ``config.json``). The CDK app answers preflights with the same origin and headers; a test
holds them together (``tests/infrastructure/test_cors.py``).
"""

from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools.event_handler import CORSConfig

ALLOW_ORIGIN: Final = "*"
# What the console sends beyond the CORS-safelisted headers: the access token (or an API key's
# signature: all of it in the one header), its JSON bodies' type, and each new order's key.
ALLOW_HEADERS: Final = ("Authorization", "Content-Type", "Idempotency-Key")
# Response headers a page may read beyond the CORS-safelisted ones: when to retry (429, 503),
# what a resource allows (405), a statement's file name (CSV).
EXPOSE_HEADERS: Final = ("Retry-After", "Allow", "Content-Disposition")

# Powertools answers a request carrying an ``Origin`` header, with ``Access-Control-Allow-Origin``,
# ``-Expose-Headers`` and ``-Allow-Headers`` (its own four ``X-Amz-*``/``X-Api-Key`` defaults
# beside ours; browsers read that one on a preflight only, which API Gateway answers).
CORS: Final = CORSConfig(
    allow_origin=ALLOW_ORIGIN,
    allow_headers=list(ALLOW_HEADERS),
    expose_headers=list(EXPOSE_HEADERS),
    allow_credentials=False,
)


def cors_headers(event: Mapping[str, Any]) -> dict[str, str]:
    """The headers the resolver's ``CORS`` puts on an answer to ``event``, for an answer made
    without the resolver: none for a request without ``Origin`` (not a browser's cross-origin
    fetch), as Powertools does."""
    origin = next(
        (
            str(value)
            for name, value in (event.get("headers") or {}).items()
            if name.lower() == "origin" and value
        ),
        None,
    )
    allowed = CORS.allowed_origin(origin) if origin is not None else None
    return CORS.to_dict(allowed) if allowed is not None else {}
