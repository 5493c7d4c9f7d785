"""Sign-up confirmation codes, locally. Cognito emails a code at ``SignUp`` (and
``ResendConfirmationCode``) and ``ConfirmSignUp`` refuses any other with
``CodeMismatchException``; moto sends nothing and takes any code. So the local stack issues the
code itself, keeps it in this mailbox (the user's inbox: ``POST /_local/mailbox`` with the email
reads it), and refuses a wrong one before moto sees the call: local mode is never more permissive
than Cognito.
"""

import json
import secrets
import threading
from collections.abc import Mapping
from typing import Any, Final

_TARGET: Final = "AWSCognitoIdentityProviderService."
ISSUES: Final = frozenset({_TARGET + "SignUp", _TARGET + "ResendConfirmationCode"})
CHECKS: Final = _TARGET + "ConfirmSignUp"


class Mailbox:
    def __init__(self) -> None:
        self._codes: dict[str, str] = {}  # username -> its latest code
        self._lock = threading.Lock()

    def watches(self, target: str) -> bool:
        return target in ISSUES or target == CHECKS

    def refuse(self, target: str, body: Mapping[str, Any]) -> bytes | None:
        """Cognito's error body when ``target`` must fail before moto sees it, else None."""
        if target != CHECKS:
            return None
        with self._lock:
            expected = self._codes.get(str(body.get("Username", "")).lower())
        if expected is None or not secrets.compare_digest(
            expected, str(body.get("ConfirmationCode", ""))
        ):
            return json.dumps(
                {
                    "__type": "CodeMismatchException",
                    "message": "Invalid verification code provided.",
                }
            ).encode()
        return None

    def after(self, target: str, body: Mapping[str, Any]) -> None:
        """After a successful call: issue a code (sign-up, resend) or spend it (confirm)."""
        username = str(body.get("Username", "")).lower()
        with self._lock:
            if target in ISSUES:
                self._codes[username] = f"{secrets.randbelow(10**6):06d}"
            elif target == CHECKS:
                self._codes.pop(username, None)

    def code(self, email: str) -> str | None:
        """The latest code sent to ``email``, as its inbox would show it."""
        with self._lock:
            return self._codes.get(email.lower())
