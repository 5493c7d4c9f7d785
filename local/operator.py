"""``python -m local operator EMAIL``: make a user of the running local stack an operator, as an
administrator does in Cognito (``AdminAddUserToGroup`` into ``operators``), so they may use the
admin API and ``exchange admin``.

    python -m local operator alice@example.com
    .venv/bin/exchange login alice@example.com --password Exchange-demo-1   # a new token
    .venv/bin/exchange admin markets

It asks the running stack (``POST /_local/operator``, found through its state file), which makes
the Cognito call. Tokens issued before name no group, in AWS as here: sign in again afterwards.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Final

DEFAULT_STATE_FILE: Final = Path.home() / ".exchange" / "local-stack.json"


def make_operator(state_file: Path, username: str) -> dict[str, Any]:
    """The stack's answer: the user's groups; raises LookupError for an unknown user and
    OSError when no stack answers."""
    api_url = json.loads(state_file.read_text())["api_url"]
    request = urllib.request.Request(  # noqa: S310 - the local gateway's own http URL
        f"{api_url}/_local/operator",
        data=json.dumps({"username": username}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            result: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise LookupError(json.loads(exc.read()).get("error", username)) from exc
        raise
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local operator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("username", help="the user's email (their Cognito username)")
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    args = parser.parse_args(argv)
    try:
        answer = make_operator(args.state_file, args.username)
    except FileNotFoundError:
        print(f"error: no local stack ({args.state_file} is missing): `make run`", file=sys.stderr)
        return 1
    except (LookupError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{answer['username']} is in {', '.join(answer['groups'])}.")
    print("Sign in again (`exchange login`) for an access token that names the group.")
    return 0
