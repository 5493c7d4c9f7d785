"""An API key for programs: its id and secret, from the environment or a file, and the
signatures it makes.

``ApiKey.discover()`` reads ``EXCHANGE_API_KEY`` and ``EXCHANGE_API_SECRET`` (and optionally
``EXCHANGE_API_WINDOW_MS``), else ``~/.exchange/api-key.json`` (what ``exchange keys create
--save`` writes, readable by the user only). The secret never appears in a repr.

>>> key = ApiKey("ak_example1", "sk_test")
>>> key
ApiKey(key_id='ak_example1', window_ms=5000)
>>> key.authorization("GET", "/v1/balances", {}, b"", now_ms=1).startswith(
...     "EXCHANGE-HMAC-SHA256 Credential=ak_example1, Timestamp=1,")
True
"""

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from exchange_client import signing
from exchange_client.errors import ExchangeClientError

API_KEY_FILE = Path.home() / ".exchange" / "api-key.json"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    secret: str = field(repr=False)
    window_ms: int = signing.DEFAULT_WINDOW_MS

    def __post_init__(self) -> None:
        if not self.key_id or not self.secret:
            raise ExchangeClientError("an API key needs both its id and its secret")
        if not 0 < self.window_ms <= signing.MAX_WINDOW_MS:
            raise ExchangeClientError(f"the window must be 1 to {signing.MAX_WINDOW_MS} ms")

    # -- where it comes from ---------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self | None:
        env = os.environ if env is None else env
        key_id, secret = env.get("EXCHANGE_API_KEY"), env.get("EXCHANGE_API_SECRET")
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            raise ExchangeClientError("set both EXCHANGE_API_KEY and EXCHANGE_API_SECRET")
        window = env.get("EXCHANGE_API_WINDOW_MS")
        return cls(key_id, secret, int(window) if window else signing.DEFAULT_WINDOW_MS)

    @classmethod
    def load(cls, path: Path = API_KEY_FILE) -> Self | None:
        try:
            saved = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return cls(
            saved["key_id"], saved["secret"], int(saved.get("window_ms", signing.DEFAULT_WINDOW_MS))
        )

    @classmethod
    def discover(cls, path: Path = API_KEY_FILE) -> Self | None:
        """The environment's key, else the saved one, else None."""
        return cls.from_env() or cls.load(path)

    def save(self, path: Path = API_KEY_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created readable by the user only, before the secret is written into it.
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        document = {"key_id": self.key_id, "secret": self.secret, "window_ms": self.window_ms}
        path.write_text(json.dumps(document))

    # -- signatures ------------------------------------------------------------------------------
    def authorization(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]] | None,
        body: bytes,
        *,
        now_ms: int | None = None,
    ) -> str:
        """The ``Authorization`` header of one request (``path`` below the stage, the query and
        the body bytes exactly as sent)."""
        return signing.authorization_header(
            self.key_id,
            self.secret,
            method,
            path,
            query,
            body=body,
            timestamp_ms=now_ms if now_ms is not None else time.time_ns() // 1_000_000,
            window_ms=self.window_ms,
        )

    def ws_parameters(self, *, now_ms: int | None = None) -> dict[str, str]:
        """The query parameters that sign a WebSocket ``$connect``."""
        return signing.ws_connect_parameters(
            self.key_id,
            self.secret,
            timestamp_ms=now_ms if now_ms is not None else time.time_ns() // 1_000_000,
            window_ms=self.window_ms,
        )
