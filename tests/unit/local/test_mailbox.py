"""The local stand-in for Cognito's emailed sign-up codes: ``ConfirmSignUp`` with any other code
fails with ``CodeMismatchException``, as in Cognito ("ConfirmSignUp", Amazon Cognito API
reference: CodeMismatchException), where moto would take any code."""

import json

from local.mailbox import CHECKS, Mailbox

SIGN_UP = "AWSCognitoIdentityProviderService.SignUp"
RESEND = "AWSCognitoIdentityProviderService.ResendConfirmationCode"


def refused(mailbox: Mailbox, username: str, code: str) -> str | None:
    answer = mailbox.refuse(CHECKS, {"Username": username, "ConfirmationCode": code})
    return None if answer is None else str(json.loads(answer)["__type"])


def test_only_the_latest_code_sent_confirms_and_only_once() -> None:
    mailbox = Mailbox()
    assert mailbox.watches(SIGN_UP)
    assert mailbox.watches(CHECKS)
    assert refused(mailbox, "a@example.com", "000000") == "CodeMismatchException"  # none sent
    mailbox.after(SIGN_UP, {"Username": "A@example.com"})
    first = mailbox.code("a@example.com")
    assert first is not None
    assert len(first) == 6
    assert first.isdigit()
    mailbox.after(RESEND, {"Username": "a@example.com"})
    latest = mailbox.code("a@example.com")
    assert latest is not None
    if latest != first:
        assert refused(mailbox, "a@example.com", first) == "CodeMismatchException"
    assert refused(mailbox, "a@example.com", latest) is None
    mailbox.after(CHECKS, {"Username": "a@example.com", "ConfirmationCode": latest})
    assert mailbox.code("a@example.com") is None
    assert refused(mailbox, "a@example.com", latest) == "CodeMismatchException"
