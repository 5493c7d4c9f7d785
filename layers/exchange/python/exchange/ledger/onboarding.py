"""Onboarding: the Cognito post-confirmation trigger opens the confirmed user's ledger account.

Amazon Cognito invokes the trigger after ConfirmSignUp and AdminConfirmSignUp
(``triggerSource`` ``PostConfirmation_ConfirmSignUp``) and after ConfirmForgotPassword
(``PostConfirmation_ConfirmForgotPassword``), with the user's current attributes in
``request.userAttributes`` ("Post confirmation Lambda trigger", Amazon Cognito Developer Guide).
A sign-up opens the account of the user's ``sub`` with KYC PENDING and the user's email; a password
reset changes nothing.

Cognito waits about five seconds for a trigger and calls it again (up to three attempts in all)
when it fails or times out, so opening is idempotent: an existing account is left as it is (only a
missing email is filled in) and its KYC status is never touched. A failure raises: Cognito then
answers the confirmation with an error (``UserLambdaValidationException``) and the user confirms
again, which runs the trigger again.

>>> class Opener(AccountOpener):
...     def open_user(self, account_id, *, email): return True
>>> event = {"triggerSource": "PostConfirmation_ConfirmSignUp",
...          "request": {"userAttributes": {"sub": "a-1", "email": "a@example.com"}}}
>>> Onboarding(Opener()).on_confirmation(event)
Onboarded(account_id='a-1', email='a@example.com', opened=True)
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from exchange.ledger.errors import LedgerError

CONFIRM_SIGN_UP: Final = "PostConfirmation_ConfirmSignUp"
CONFIRM_FORGOT_PASSWORD: Final = "PostConfirmation_ConfirmForgotPassword"  # noqa: S105 - a name
# The account id is the user's sub (a UUID in Cognito): a plain token, as the API requires.
_SUB: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_MIN_EMAIL, _MAX_EMAIL = 3, 320


class InvalidTrigger(LedgerError):
    """A trigger event this function does not handle, or without a usable ``sub``."""

    code = "invalid_trigger"


@dataclass(frozen=True, slots=True)
class Onboarded:
    account_id: str
    email: str | None
    opened: bool  # False: the account existed (a retried trigger, or opened another way)


class AccountOpener(ABC):
    @abstractmethod
    def open_user(self, account_id: str, *, email: str | None) -> bool:
        """Open a user account with KYC PENDING; True when it was opened now. An existing
        account keeps its KYC status; only a missing email is filled in."""


class Onboarding:
    def __init__(self, opener: AccountOpener) -> None:
        self._opener = opener

    def on_confirmation(self, event: Mapping[str, Any]) -> Onboarded | None:
        """Open the account of a confirmed sign-up; None for a confirmed password reset.
        InvalidTrigger for any other trigger, or a sign-up without a usable ``sub``."""
        source = event.get("triggerSource")
        if source == CONFIRM_FORGOT_PASSWORD:
            return None
        if source != CONFIRM_SIGN_UP:
            raise InvalidTrigger(f"not a post-confirmation trigger: {source!r}")
        request = event.get("request")
        attributes = request.get("userAttributes") if isinstance(request, Mapping) else None
        if not isinstance(attributes, Mapping):
            raise InvalidTrigger("the event has no request.userAttributes")
        sub = attributes.get("sub")
        if not isinstance(sub, str) or not _SUB.fullmatch(sub):
            raise InvalidTrigger("the user's sub is missing or not an account id")
        email = attributes.get("email")
        if not isinstance(email, str) or not _MIN_EMAIL <= len(email) <= _MAX_EMAIL:
            email = None  # the account opens anyway; the profile shows no email
        return Onboarded(sub, email, self._opener.open_user(sub, email=email))
