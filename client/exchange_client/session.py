"""The CLI's saved sign-in: the exchange's address and the Cognito tokens, in
``~/.exchange/session.json`` (readable by the user only)."""

import json
from dataclasses import asdict
from pathlib import Path

from exchange_client.auth import CognitoAuth, Tokens
from exchange_client.config import ClientConfig
from exchange_client.errors import AuthError

SESSION_FILE = Path.home() / ".exchange" / "session.json"


def save(config: ClientConfig, tokens: Tokens, path: Path = SESSION_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": asdict(config), "tokens": asdict(tokens)}))
    path.chmod(0o600)


def load(path: Path = SESSION_FILE) -> tuple[ClientConfig, Tokens]:
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise AuthError("not signed in: run `exchange login EMAIL` first") from exc
    return ClientConfig(**saved["config"]), Tokens(**saved["tokens"])


def restore(auth: CognitoAuth, tokens: Tokens) -> None:
    auth.tokens = tokens
