"""The local users' inboxes: sign-up confirmation codes, the emails the exchange sent, and the
password-change notices Cognito's calls give rise to.

- Codes. Cognito emails a code at ``SignUp`` (and ``ResendConfirmationCode``) and
  ``ConfirmSignUp`` refuses any other with ``CodeMismatchException``; moto sends nothing and takes
  any code. So the local stack issues the code itself, keeps it here (the user's inbox:
  ``POST /_local/mailbox`` with the email reads it), and refuses a wrong one before moto sees the
  call: local mode is never more permissive than Cognito.
- Emails. The emailer sends through SES, which locally is moto's, in this process: ``emails``
  reads what moto's SES backend holds (SES API v2's ``SendEmail`` is kept by the v1 backend), for
  ``GET /_local/mailbox/emails?to=<address>``; each with the notice id its body names.
- Password changes. Cognito has no trigger for them, and in AWS no notice is sent for them (the
  gap is stated in ``exchange.notifications.security``); locally the gateway sees each Cognito
  call, so a successful ``ChangePassword`` or ``ConfirmForgotPassword`` publishes a
  ``password.changed`` notice here (``notify_password_changes`` turns it on), under the user's
  ``sub``.
"""

import base64
import binascii
import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from exchange.notifications.publisher import NoticeNotPublished, NoticePublisher
from exchange.notifications.security import password_changed
from exchange.notifications.templates import reference_of
from exchange.observability import logger

_TARGET: Final = "AWSCognitoIdentityProviderService."
ISSUES: Final = frozenset({_TARGET + "SignUp", _TARGET + "ResendConfirmationCode"})
CHECKS: Final = _TARGET + "ConfirmSignUp"
PASSWORD_CHANGES: Final = frozenset({_TARGET + "ChangePassword", _TARGET + "ConfirmForgotPassword"})
# moto's default account; local mode's clients use it (any credentials map to it).
MOTO_ACCOUNT: Final = "123456789012"


class Mailbox:
    def __init__(self) -> None:
        self._codes: dict[str, str] = {}  # username -> its latest code
        self._lock = threading.Lock()
        # Set by notify_password_changes: (publisher, Cognito client, user pool id).
        self._passwords: tuple[NoticePublisher, Any, str] | None = None

    def watches(self, target: str) -> bool:
        return target in ISSUES or target == CHECKS or target in PASSWORD_CHANGES

    def notify_password_changes(
        self, publisher: NoticePublisher, cognito: Any, user_pool_id: str
    ) -> None:
        """Publish a ``password.changed`` notice after each successful password call."""
        self._passwords = (publisher, cognito, user_pool_id)

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
        """After a successful call: issue a code (sign-up, resend) or spend it (confirm); tell of
        a password change."""
        if target in PASSWORD_CHANGES:
            self._password_changed(target, body)
            return
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

    def _password_changed(self, target: str, body: Mapping[str, Any]) -> None:
        if self._passwords is None:
            return
        publisher, cognito, pool_id = self._passwords
        call = target.removeprefix(_TARGET)
        try:
            sub = _sub_of(body, cognito, pool_id)
            if sub is None:
                logger.warning("password change of an unknown user", extra={"call": call})
                return
            notice = password_changed(
                sub, event_id=uuid.uuid4().hex, at_ns=time.time_ns(), via=call
            )
            publisher.publish(notice)
        except (NoticeNotPublished, BotoCoreError, ClientError) as exc:
            # As in AWS, the password change stands; only its notice is lost (and logged).
            logger.warning("password.changed notice not published", extra={"error": str(exc)})


def _sub_of(body: Mapping[str, Any], cognito: Any, pool_id: str) -> str | None:
    """The user's ``sub``: the access token's claim (ChangePassword; moto has just accepted the
    token, so its claims are its own), or the user's attribute (ConfirmForgotPassword)."""
    token = body.get("AccessToken")
    if isinstance(token, str) and token.count(".") == 2:
        payload = token.split(".")[1]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            return None
        sub = claims.get("sub") if isinstance(claims, dict) else None
        return sub if isinstance(sub, str) else None
    username = body.get("Username")
    if not isinstance(username, str):
        return None
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=username)
    return next((a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub"), None)


def emails(
    to: str | None = None, *, account: str = MOTO_ACCOUNT, region: str = "us-east-1"
) -> list[dict[str, Any]]:
    """The emails moto's SES holds, oldest first, those to ``to`` only when given (any case):
    ``to`` (every recipient), ``from``, ``subject``, ``body``, ``message_id`` and ``notice_id``
    (the reference line of the exchange's emails; None for another)."""
    from moto.ses.models import ses_backends  # noqa: PLC0415 - local mode only

    wanted = to.lower() if to else None
    found: list[dict[str, Any]] = []
    for message in list(ses_backends[account][region].sent_messages):
        destinations = getattr(message, "destinations", None)
        if not isinstance(destinations, Mapping):
            continue  # a raw or templated message: the exchange sends neither
        recipients = [str(a) for addresses in destinations.values() for a in addresses]
        if wanted is not None and wanted not in (r.lower() for r in recipients):
            continue
        body = str(getattr(message, "body", ""))
        found.append(
            {
                "to": recipients,
                "from": message.source,
                "subject": getattr(message, "subject", ""),
                "body": body,
                "message_id": message.id,
                "notice_id": reference_of(body),
            }
        )
    return found


__all__ = ["Mailbox", "emails"]
