"""The trading console (``client/console``), served by the local gateway as CloudFront serves it
from its bucket when deployed: the same files at the same paths, and its ``config.json``.

- ``GET /`` (and ``/index.html``): the page; ``GET /<file>`` each other file of the console's
  directory (``/app.js``, ``/js/...``, ``/style.css``, ``/vendor/...``), at its path there;
  ``GET /config.json``: where the page finds the API, the WebSocket API and Cognito.
- The routes are exact paths fixed when the gateway starts, one per file found then, so a request
  can never name another file (``..``, encoded or not, matches no route and goes on to the REST
  API, which answers 403 as API Gateway does for a path it does not know). None of them is under a
  prefix the gateway serves otherwise (``/v1``, ``/ws``, ``/_local``, ``/@connections``, the
  stage's ``/local/``): a file that would be is refused at start.
- Every answer carries the console's content security policy (``content_security_policy``): no
  inline script or style, no eval, and connections only to the three origins of its
  configuration.

``config.json`` (documented in ``client/console/README.md``, which the deployment writes the
same way)::

    {"api_url": "http://127.0.0.1:8000", "ws_url": "ws://127.0.0.1:8000/ws",
     "region": "us-east-1", "user_pool_client_id": "...", "cognito_endpoint": "http://..."}
"""

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web

from local.gateway.events import STAGE

CONSOLE_DIR: Final = Path(__file__).resolve().parents[2] / "client" / "console"
CONFIG_PATH: Final = "/config.json"
# What is served, by suffix; anything else in the directory (its README) is not.
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
# The license files next to the vendored chart library, served as text.
TEXT_FILES: Final = frozenset({"LICENSE", "NOTICE"})
RESERVED_PREFIXES: Final = ("/v1", "/ws", "/_local", "/@connections", f"/{STAGE}/")
Handler = Callable[[web.Request], Awaitable[web.Response]]


class ConsoleError(RuntimeError):
    """The console's directory cannot be served as it is."""


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """The page's ``config.json``: ``api_url`` is the REST API's base (the stage's URL, to which
    the page appends ``/v1/...``, as the Python client's ``ClientConfig.api_url``); ``ws_url``
    the WebSocket API's; ``cognito_endpoint`` where ``InitiateAuth`` is posted (Cognito's
    regional endpoint in AWS, moto's locally)."""

    api_url: str
    ws_url: str
    region: str
    user_pool_client_id: str
    cognito_endpoint: str

    def as_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``.

    >>> origin("https://abc.execute-api.us-east-1.amazonaws.com/prod"), origin("ws://h:1/ws")
    ('https://abc.execute-api.us-east-1.amazonaws.com', 'ws://h:1')
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(config: ConsoleConfig) -> str:
    """The console's CSP: scripts and styles from its own origin only (no inline, no eval),
    connections only to the API, WebSocket and Cognito origins (and its own, for
    ``config.json``), images from itself or ``data:``, never framed, no ``<base>``, no form
    posted anywhere.

    >>> config = ConsoleConfig("http://h:1", "ws://h:1/ws", "us-east-1", "c", "http://h:2")
    >>> print(content_security_policy(config).replace("; ", ";\\n"))
    default-src 'none';
    script-src 'self';
    style-src 'self';
    connect-src 'self' http://h:1 ws://h:1 http://h:2;
    img-src 'self' data:;
    frame-ancestors 'none';
    base-uri 'none';
    form-action 'none'
    """
    origins = dict.fromkeys(
        origin(url) for url in (config.api_url, config.ws_url, config.cognito_endpoint)
    )
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src " + " ".join(("'self'", *origins)),
            "img-src 'self' data:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


def console_files(root: Path = CONSOLE_DIR) -> dict[str, Path]:
    """Each URL path the console serves and its file: every file under ``root`` with a suffix
    in ``CONTENT_TYPES`` (or a license file), at its relative path; the page at ``/`` too."""
    if not (root / "index.html").is_file():
        raise ConsoleError(f"no console at {root} (index.html is missing)")
    files: dict[str, Path] = {"/": root / "index.html"}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if path.suffix not in CONTENT_TYPES and path.name not in TEXT_FILES:
            continue
        route = "/" + path.relative_to(root).as_posix()
        if route == CONFIG_PATH or route.startswith(RESERVED_PREFIXES):
            raise ConsoleError(f"{path} would shadow {route}, which the gateway serves")
        files[route] = path
    return files


def _content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix, "text/plain; charset=utf-8")


def add_console_routes(
    app: web.Application, config: ConsoleConfig, files: Mapping[str, Path] | None = None
) -> None:
    """The console's routes; add them before any catch-all route."""
    served = dict(console_files() if files is None else files)
    headers = {
        "Content-Security-Policy": content_security_policy(config),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }

    async def configuration(_request: web.Request) -> web.Response:
        return web.json_response(config.as_json(), headers=headers)

    def serve(path: Path) -> Handler:
        async def handler(_request: web.Request) -> web.Response:
            # Read on each request: an edit to the console shows on reload.
            return web.Response(
                body=path.read_bytes(), headers={**headers, "Content-Type": _content_type(path)}
            )

        return handler

    app.router.add_get(CONFIG_PATH, configuration)
    for route, path in served.items():
        app.router.add_get(route, serve(path))
