"""Security notices: a new API key, a changed password. Always emailed (``ALWAYS_EMAILED``).

- ``api_key.created``: the API keys' service publishes it once the key is stored
  (``exchange.apikeys.service``); a publish that fails never fails the creation (it is logged and
  counted, ``SecurityNoticesNotPublished``).
- ``password.changed``: Cognito has no Lambda trigger for ``ChangePassword`` (its triggers are
  sign-up, authentication, token, message and migration ones), and a password changed with an
  access token never passes through our API. What sees it in AWS is CloudTrail, which logs the
  user pool's API calls; EventBridge receives them as "AWS API Call via CloudTrail" events (source
  ``aws.cognito-idp``). But Cognito replaces private request fields in CloudTrail with
  ``HIDDEN_FOR_SECURITY_REASONS`` ("Amazon Cognito information in CloudTrail"), and AWS's
  documentation does not say that these events name the user's ``sub``: a rule on them could
  deliver nothing. So, decided for this round: **no password-change notice in AWS** (no rule, no
  function); the gap is known and stated. Locally the gateway stands in for Cognito and sees each
  successful ``ChangePassword`` / ``ConfirmForgotPassword`` itself (``local.mailbox``), so there
  the notice is published, under the user's ``sub``. ``password_notice_from_cloudtrail`` and
  ``PASSWORD_CHANGE_PATTERN`` are what a future rule would use once the event's shape is confirmed
  (an explicit ``sub`` only, never a guess); they are tested as pure code and unused in AWS.
"""

import calendar
import time
from collections.abc import Mapping
from typing import Any, Final

from exchange.notices import Notice, NoticeKind

API_KEY_CREATED: Final = "api_key.created"
PASSWORD_CHANGED: Final = "password.changed"  # noqa: S105 - an event name, not a secret
HIDDEN: Final = "HIDDEN_FOR_SECURITY_REASONS"

# The Cognito calls that set a user's password, as CloudTrail names them.
PASSWORD_CALLS: Final = ("ChangePassword", "ConfirmForgotPassword", "AdminSetUserPassword")

# EventBridge's pattern for such a rule (not deployed; see above): the pool's successful password
# calls.
PASSWORD_CHANGE_PATTERN: Final[Mapping[str, Any]] = {
    "source": ["aws.cognito-idp"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["cognito-idp.amazonaws.com"],
        "eventName": list(PASSWORD_CALLS),
        "errorCode": [{"exists": False}],
    },
}


def api_key_created(
    account_id: str, *, key_id: str, label: str, scopes: list[str], at_ns: int
) -> Notice:
    """>>> api_key_created("a-1", key_id="k1", label="bot", scopes=["read"], at_ns=5).notice_id
    'security#api_key.created#k1'"""
    return Notice(
        notice_id=f"security#{API_KEY_CREATED}#{key_id}",
        kind=NoticeKind.SECURITY,
        event=API_KEY_CREATED,
        account_id=account_id,
        at_ns=at_ns,
        data={"key_id": key_id, "label": label, "scopes": ", ".join(scopes)},
    )


def password_changed(account_id: str, *, event_id: str, at_ns: int, via: str) -> Notice:
    """``event_id`` makes the id (CloudTrail's ``eventID``, or the local gateway's own)."""
    return Notice(
        notice_id=f"security#{PASSWORD_CHANGED}#{event_id}",
        kind=NoticeKind.SECURITY,
        event=PASSWORD_CHANGED,
        account_id=account_id,
        at_ns=at_ns,
        data={"via": via},
    )


def password_notice_from_cloudtrail(event: Mapping[str, Any]) -> Notice | None:
    """The notice of an EventBridge "AWS API Call via CloudTrail" event of a password call, or
    None when it is not one or names no user.

    >>> event = {"detail": {"eventName": "ChangePassword", "eventID": "e-1",
    ...          "eventSource": "cognito-idp.amazonaws.com",
    ...          "additionalEventData": {"sub": "a-1"}}, "time": "2024-01-02T03:04:05Z"}
    >>> password_notice_from_cloudtrail(event).account_id
    'a-1'
    """
    detail = event.get("detail") or {}
    if detail.get("eventName") not in PASSWORD_CALLS or detail.get("errorCode"):
        return None
    sub = _named(detail.get("additionalEventData")) or _named(detail.get("userIdentity"))
    event_id = str(detail.get("eventID") or event.get("id") or "")
    if sub is None or not event_id:
        return None
    return password_changed(
        sub, event_id=event_id, at_ns=_ns(str(event.get("time", ""))), via=detail["eventName"]
    )


def _named(part: object) -> str | None:
    if not isinstance(part, Mapping):
        return None
    sub = part.get("sub")
    return sub if isinstance(sub, str) and sub and sub != HIDDEN else None


def _ns(iso: str) -> int:
    try:
        return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) * 10**9
    except ValueError:
        return time.time_ns()
