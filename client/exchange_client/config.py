"""Where the exchange is: the API and WebSocket URLs and the Cognito app client.

``ClientConfig.local()`` reads the state file the local stack writes (``make run``), so the CLI
and scripts find it with no flags; ``ClientConfig.from_env()`` reads ``EXCHANGE_API_URL``,
``EXCHANGE_WS_URL``, ``EXCHANGE_APP_CLIENT_ID``, ``EXCHANGE_REGION`` and (locally)
``EXCHANGE_COGNITO_ENDPOINT_URL``.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from exchange_client.errors import ExchangeClientError

LOCAL_STATE_FILE = Path.home() / ".exchange" / "local-stack.json"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    api_url: str
    ws_url: str
    app_client_id: str
    region: str = "us-east-1"
    cognito_endpoint_url: str | None = None  # None in AWS; moto's URL locally

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(
            api_url=state["api_url"],
            ws_url=state["ws_url"],
            app_client_id=state["app_client_id"],
            region=state.get("region", "us-east-1"),
            cognito_endpoint_url=state.get("aws_endpoint_url"),
        )

    @classmethod
    def local(cls, path: Path | None = None) -> Self:
        state_file = path or LOCAL_STATE_FILE
        try:
            return cls.from_state(json.loads(state_file.read_text()))
        except FileNotFoundError as exc:
            raise ExchangeClientError(
                f"no local stack found ({state_file} is missing): start one with `make run`"
            ) from exc

    @classmethod
    def from_env(cls) -> Self | None:
        env = os.environ
        if "EXCHANGE_API_URL" not in env:
            return None
        api_url = env["EXCHANGE_API_URL"].rstrip("/")
        return cls(
            api_url=api_url,
            ws_url=env.get("EXCHANGE_WS_URL", api_url.replace("http", "ws", 1) + "/ws"),
            app_client_id=env["EXCHANGE_APP_CLIENT_ID"],
            region=env.get("EXCHANGE_REGION", "us-east-1"),
            cognito_endpoint_url=env.get("EXCHANGE_COGNITO_ENDPOINT_URL"),
        )

    @classmethod
    def discover(cls, path: Path | None = None) -> Self:
        """The environment's, else the local stack's."""
        return cls.from_env() or cls.local(path)
