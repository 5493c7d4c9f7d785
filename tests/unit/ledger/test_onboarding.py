"""The Cognito post-confirmation trigger (``lambdas/onboarding``) with an in-memory opener.

The event's shape is pinned from "Post confirmation Lambda trigger" and the common parameters of
"Customizing user pool workflows with Lambda triggers" (Amazon Cognito Developer Guide):
``version``, ``triggerSource`` (``PostConfirmation_ConfirmSignUp`` after ConfirmSignUp or
AdminConfirmSignUp, ``PostConfirmation_ConfirmForgotPassword`` after ConfirmForgotPassword),
``region``, ``userPoolId``, ``userName``, ``callerContext`` (``awsSdkVersion``, ``clientId``),
``request`` (``userAttributes``, strings, ``sub`` among them; optional ``clientMetadata``) and
``response`` ({}); the function must return the event.
"""

import copy
from typing import Any

import pytest

from exchange.ledger.onboarding import AccountOpener, InvalidTrigger, Onboarding
from exchange.testing.lambda_events import LambdaContextStub, cognito_post_confirmation_event
from lambdas.onboarding.handler import handler

SUB = "5f2b7c4e-1d2a-4b8e-9c1f-0a1b2c3d4e5f"


class Opener(AccountOpener):
    """Accounts as the ledger keeps them: opened once, email filled in when missing."""

    def __init__(self, *, fail: bool = False) -> None:
        self.accounts: dict[str, str | None] = {}
        self.calls = 0
        self.fail = fail

    def open_user(self, account_id: str, *, email: str | None) -> bool:
        self.calls += 1
        if self.fail:
            raise ConnectionError("the ledger is unreachable")
        if account_id in self.accounts:
            self.accounts[account_id] = self.accounts[account_id] or email
            return False
        self.accounts[account_id] = email
        return True


def invoke(event: dict[str, Any], opener: Opener) -> dict[str, Any]:
    returned: dict[str, Any] = handler(
        event, LambdaContextStub(function_name="onboarding"), onboarding=Onboarding(opener)
    )
    return returned


def test_the_event_shape_is_the_one_cognito_sends() -> None:
    event = cognito_post_confirmation_event(
        SUB, "ann@example.com", client_metadata={"source": "web"}
    )
    assert set(event) == {
        "version",
        "triggerSource",
        "region",
        "userPoolId",
        "userName",
        "callerContext",
        "request",
        "response",
    }
    assert set(event["callerContext"]) == {"awsSdkVersion", "clientId"}
    assert set(event["request"]) == {"userAttributes", "clientMetadata"}
    assert event["response"] == {}
    assert all(isinstance(v, str) for v in event["request"]["userAttributes"].values())


def test_a_confirmed_sign_up_opens_the_account_and_returns_the_event() -> None:
    opener = Opener()
    event = cognito_post_confirmation_event(SUB, "ann@example.com")
    sent = copy.deepcopy(event)
    assert invoke(event, opener) == sent
    assert opener.accounts == {SUB: "ann@example.com"}


def test_cognitos_retries_open_the_account_once() -> None:
    opener = Opener()
    event = cognito_post_confirmation_event(SUB, "ann@example.com")
    for _ in range(3):
        invoke(event, opener)
    assert (opener.accounts, opener.calls) == ({SUB: "ann@example.com"}, 3)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_confirmed_password_reset_changes_nothing() -> None:
    opener = Opener()
    event = cognito_post_confirmation_event(
        SUB, "ann@example.com", trigger_source="PostConfirmation_ConfirmForgotPassword"
    )
    assert invoke(event, opener) == event
    assert opener.calls == 0


def test_an_unusable_email_opens_the_account_without_one() -> None:
    opener = Opener()
    invoke(cognito_post_confirmation_event(SUB, "x" * 400), opener)
    invoke(cognito_post_confirmation_event("other-sub", None), opener)
    assert opener.accounts == {SUB: None, "other-sub": None}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    "event",
    [
        cognito_post_confirmation_event(SUB, None, trigger_source="PreSignUp_SignUp"),
        cognito_post_confirmation_event("", "a@example.com"),
        cognito_post_confirmation_event("bad sub/with slash", None),
        {"triggerSource": "PostConfirmation_ConfirmSignUp", "request": {}},
    ],
)
def test_an_event_it_cannot_handle_raises(event: dict[str, Any]) -> None:
    opener = Opener()
    with pytest.raises(InvalidTrigger):
        invoke(event, opener)
    assert opener.calls == 0


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_ledger_failure_raises_so_cognito_fails_the_confirmation() -> None:
    with pytest.raises(ConnectionError):
        invoke(cognito_post_confirmation_event(SUB, "ann@example.com"), Opener(fail=True))
