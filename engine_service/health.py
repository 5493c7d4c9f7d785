"""The HTTP health endpoint the ECS (and container) health check calls.

``GET /health`` answers 200 while the engine is consuming (``"serving": true``), and 503 while it
is starting, recovering, reconnecting to the broker or journal, or stopped.

A store that only speeds things up does not fail the check: with Redis down the engine still
matches and journals, and the body says ``"status": "degraded"`` with each store's reason under
``problems``. Failing the check would make ECS restart the task, which cannot bring Redis back,
and every restart returns the unacknowledged commands to the queue, pushing valid orders towards
the dead-letter queue. A body without ``serving`` is judged by ``status == "ready"``. A standby
(``"standby": true``: a fenced task waiting for the failover fence) answers 200 too, with
``"serving": false``: it is well, and ECS must not restart it.

``details`` are facts fixed for the task's life, added to every body: the engine says which
matching core it runs (``"core": "native"``).
"""

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

StatusFn = Callable[[], dict[str, Any]]


class HealthServer:
    def __init__(
        self,
        port: int,
        status: StatusFn,
        host: str = "0.0.0.0",  # noqa: S104 - the container's health check reaches it from outside the process
        *,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status  # replaceable: the standby's, then the runtime's
        handler = _handler(lambda: self.status(), dict(details or {}))  # noqa: PLW0108 - late-bound
        self._server = ThreadingHTTPServer((host, port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> "HealthServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(status: StatusFn, details: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") not in {"/health", ""}:
                self.send_error(404)
                return
            body = {**details, **status()}
            payload = json.dumps(body, default=str).encode()
            serving = body.get("serving", body.get("status") == "ready")
            self.send_response(200 if serving or body.get("standby") else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return  # health checks every few seconds would drown the logs

    return Handler
