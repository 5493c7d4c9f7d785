"""A Lambda authorizer's answer, checked and evaluated as API Gateway does.

"Output from an API Gateway Lambda authorizer" (API Gateway developer guide): the answer must
hold a ``principalId`` and a ``policyDocument`` of statements (``Effect`` Allow or Deny,
``Action`` ``execute-api:Invoke``, ``Resource`` method ARNs, ``*`` and ``?`` wildcards allowed),
and may hold a ``context`` map whose values are strings, numbers or booleans ("you cannot set a
JSON object or array as a valid value of any key in the context map"). An answer that is not so
shaped is API Gateway's 500 (``AuthorizerConfigurationException``): ``InvalidAnswer`` here.
The same page limits a policy statement's ``Resource`` ARN to 512 characters; a longer one is an
``InvalidAnswer`` here too (the page does not say what API Gateway answers then; refusing is never
more permissive).

A statement holds only ``Sid``, ``Effect``, ``Action`` and ``Resource`` here: this twin does not
evaluate ``Condition``, ``NotAction``, ``NotResource``, ``Principal`` or ``NotPrincipal``, and
dropping one would widen the policy (a conditional Allow would become unconditional), so an answer
with any of them is refused as invalid rather than served more openly than deployed.

The policy is evaluated against the request's method ARN with IAM's rules: an explicit Deny wins,
else an Allow grants, else the request is implicitly denied (both 403: "User is not authorized to
access this resource[ with an explicit deny]"; "How do I troubleshoot HTTP 403 errors from API
Gateway Lambda authorizers", AWS Knowledge Center). Wildcards match within one ARN segment (the
parts between colons); a ``*`` that ends a segment may run on across colons ("IAM JSON policy
elements: Resource", IAM User Guide). Actions match case-insensitively.

>>> answer = parse_answer({"principalId": "a", "policyDocument": {"Version": "2012-10-17",
...     "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
...                    "Resource": "arn:aws:execute-api:us-east-1:1:api/prod/*/*"}]}})
>>> answer.decide("arn:aws:execute-api:us-east-1:1:api/prod/GET/v1/orders")
'allow'
>>> answer.decide("arn:aws:execute-api:us-east-1:1:api/dev/GET/v1/orders")
'implicit-deny'
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal

INVOKE: Final = "execute-api:invoke"
MAX_RESOURCE_ARN_CHARS: Final = 512  # "Output from an API Gateway Lambda authorizer"
STATEMENT_KEYS: Final = frozenset({"Sid", "Effect", "Action", "Resource"})
Decision = Literal["allow", "deny", "implicit-deny"]
ContextValue = str | int | float | bool


class InvalidAnswer(ValueError):
    """An authorizer answer API Gateway cannot use (its 500)."""


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def applies(self, method_arn: str) -> bool:
        return any(_pattern(a, arn=False).fullmatch(INVOKE) for a in self.actions) and any(
            _pattern(r, arn=True).fullmatch(method_arn) for r in self.resources
        )


@dataclass(frozen=True, slots=True)
class AuthorizerAnswer:
    principal_id: str
    statements: tuple[Statement, ...]
    context: Mapping[str, ContextValue]

    def decide(self, method_arn: str) -> Decision:
        effects = {s.effect for s in self.statements if s.applies(method_arn)}
        if "Deny" in effects:
            return "deny"
        return "allow" if "Allow" in effects else "implicit-deny"

    def request_context(self) -> dict[str, Any]:
        """``requestContext.authorizer`` of the integration's event: ``principalId`` and each
        context value (API Gateway passes them on as strings)."""
        values = {key: _as_string(value) for key, value in self.context.items()}
        return {**values, "principalId": self.principal_id}


def _as_string(value: ContextValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise InvalidAnswer(f"{what} is {value!r}, not a string or a list of strings")
    return tuple(items)


def _statement(raw: Any) -> Statement:
    if not isinstance(raw, dict):
        raise InvalidAnswer(f"a statement is {raw!r}, not an object")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise InvalidAnswer(f"Effect is {effect!r}, not Allow or Deny")
    unevaluated = sorted(set(raw) - STATEMENT_KEYS)
    if unevaluated:
        raise InvalidAnswer(
            f"a statement holds {', '.join(unevaluated)}: the local twin evaluates only"
            " Effect, Action and Resource, and never drops a constraint"
        )
    actions = _strings(raw.get("Action"), "Action")
    resources = _strings(raw.get("Resource"), "Resource")
    for resource in resources:
        if len(resource) > MAX_RESOURCE_ARN_CHARS:
            raise InvalidAnswer(
                f"a Resource ARN of {len(resource)} characters (at most {MAX_RESOURCE_ARN_CHARS})"
            )
    return Statement(effect, actions, resources)


def parse_answer(result: Any) -> AuthorizerAnswer:
    """The authorizer's answer, checked (InvalidAnswer when API Gateway would answer 500)."""
    if not isinstance(result, dict):
        raise InvalidAnswer(f"the answer is {type(result).__name__}, not an object")
    principal = result.get("principalId")
    if not isinstance(principal, str):
        raise InvalidAnswer(f"principalId is {principal!r}, not a string")
    document = result.get("policyDocument")
    if not isinstance(document, dict):
        raise InvalidAnswer("no policyDocument")
    raw_statements = document.get("Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise InvalidAnswer("policyDocument has no Statement list")
    context = result.get("context") or {}
    if not isinstance(context, dict):
        raise InvalidAnswer(f"context is {type(context).__name__}, not an object")
    for key, value in context.items():
        if not isinstance(value, str | int | float | bool):
            raise InvalidAnswer(f"context[{key!r}] is {type(value).__name__}; only strings,"
                                " numbers and booleans may be context values")  # fmt: skip
    return AuthorizerAnswer(principal, tuple(_statement(s) for s in raw_statements), context)


@lru_cache(maxsize=1024)
def _pattern(glob: str, *, arn: bool) -> re.Pattern[str]:
    """IAM's wildcard match. For an ARN, ``*`` and ``?`` stay within a colon-separated segment,
    except a ``*`` ending a segment, which may run on across colons."""
    if not arn:
        return re.compile(_segment(glob.lower(), any_char="."), re.IGNORECASE | re.DOTALL)
    segments = glob.split(":")
    parts = []
    for segment in segments:
        if segment.endswith("*"):
            parts.append(_segment(segment[:-1], any_char="[^:]") + ".*")
        else:
            parts.append(_segment(segment, any_char="[^:]"))
    return re.compile(":".join(parts), re.DOTALL)


def _segment(glob: str, *, any_char: str) -> str:
    return "".join(
        f"{any_char}*" if c == "*" else any_char if c == "?" else re.escape(c) for c in glob
    )
