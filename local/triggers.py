"""The user pool's Lambda triggers, locally. moto runs no Cognito triggers, so the local stack
watches the Cognito calls moto serves and, when one would fire a trigger that the template wires
(``AWS::Cognito::UserPool`` ``LambdaConfig``), invokes the same function with the event Cognito
sends ("Post confirmation Lambda trigger", Amazon Cognito developer guide):

- ``ConfirmSignUp`` (the user's code) and ``AdminConfirmSignUp`` (an operator) fire
  ``PostConfirmation`` with ``triggerSource`` ``PostConfirmation_ConfirmSignUp``;
- ``ConfirmForgotPassword`` fires it with ``PostConfirmation_ConfirmForgotPassword``.

As in Cognito, the trigger runs inside the call: the caller's answer waits for it, and a failing
trigger turns the answer into ``UnexpectedLambdaException`` (the user stays confirmed; the
function must be idempotent, as Cognito also retries it).
"""

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

_TARGET: Final = "AWSCognitoIdentityProviderService."
_SOURCES: Final = {
    "ConfirmSignUp": "PostConfirmation_ConfirmSignUp",
    "AdminConfirmSignUp": "PostConfirmation_ConfirmSignUp",
    "ConfirmForgotPassword": "PostConfirmation_ConfirmForgotPassword",
}
POST_CONFIRMATION: Final = "PostConfirmation"

Invoke = Callable[[str, dict[str, Any]], Any]


class TriggerFailed(RuntimeError):
    """The trigger's function failed: Cognito answers UnexpectedLambdaException."""


class CognitoTriggers:
    """``(operation, request body, user lookup)`` -> the trigger's invocation, when wired."""

    def __init__(self, wired: Mapping[str, str], invoke: Invoke) -> None:
        self._wired = dict(wired)  # trigger (LambdaConfig key) -> function
        self._invoke = invoke

    def watches(self, target: str) -> bool:
        operation = target.removeprefix(_TARGET)
        return (
            target.startswith(_TARGET)
            and operation in _SOURCES
            and POST_CONFIRMATION in self._wired
        )

    def after(self, target: str, body: Mapping[str, Any], cognito: Any, pool_id: str) -> None:
        """Run the trigger for a successful ``target`` call with request ``body``."""
        operation = target.removeprefix(_TARGET)
        function = self._wired.get(POST_CONFIRMATION)
        if function is None or operation not in _SOURCES:
            return
        username = str(body["Username"])
        user = cognito.admin_get_user(UserPoolId=pool_id, Username=username)
        attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
        event = {
            "version": "1",
            "region": pool_id.partition("_")[0],  # a pool id starts with its region
            "userPoolId": pool_id,
            "userName": user["Username"],
            "callerContext": {
                "awsSdkVersion": "aws-sdk-unknown-unknown",
                "clientId": str(body.get("ClientId", "CLIENT_ID_NOT_APPLICABLE")),
            },
            "triggerSource": _SOURCES[operation],
            "request": {"userAttributes": attributes},
            "response": {},
        }
        try:
            self._invoke(function, event)
        except Exception as exc:
            raise TriggerFailed(f"{function}: {exc}") from exc


def failure_body(exc: TriggerFailed) -> bytes:
    return json.dumps(
        {
            "__type": "UnexpectedLambdaException",
            "message": f"PostConfirmation failed with error {exc}.",
        }
    ).encode()
