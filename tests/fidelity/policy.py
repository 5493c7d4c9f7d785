"""A small IAM policy evaluator: is one request of one role allowed, within one account?

It follows "Policy evaluation logic" (IAM User Guide) for a principal and a resource in the same
account, with no SCP or session policy:

1. an explicit ``Deny`` in any policy that applies (identity, resource-based, key policy) denies;
2. a KMS key is usable only as its key policy says ("Key policies in AWS KMS"): the key policy
   allows the role itself, or allows the account (``arn:aws:iam::<account>:root``), which lets
   IAM policies grant it; nothing else does;
3. otherwise an ``Allow`` in an identity policy (intersected with the role's permissions boundary,
   if it has one) or in the resource's own policy naming the role allows;
4. nothing else is allowed (implicit deny).

``Action``/``NotAction`` match case-insensitively with ``*`` and ``?``; ``Resource``/
``NotResource`` match ARN segment by segment ("IAM JSON policy elements: Resource": ``*`` and ``?``
stay within a colon-separated segment, except a ``*`` that ends a segment, which may run on).
Conditions: ``String*``, ``Arn*``, ``Bool``, ``Null`` and ``Numeric*`` (``...IfExists`` and the
``ForAnyValue:``/``ForAllValues:`` qualifiers too) over the keys the request's ``context`` holds
(a KMS request's whole encryption context is known: a ``kms:EncryptionContext:<name>`` key it
lacks is absent, not unknown). A condition on any other key, or an operator not listed, is
unknown: an ``Allow`` with an unknown condition allows nothing, and a ``Deny`` with one denies
(the check must never be more permissive than AWS).
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any, Final

_ARN_SEGMENTS: Final = 6


class Truth(Enum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


def _listed(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


@dataclass(frozen=True, slots=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    # Resource-based and key policies only: {"AWS": [...], "Service": [...]} or "*".
    principal: Mapping[str, tuple[str, ...]] | None = None
    not_principal: bool = False
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    sid: str = ""

    @classmethod
    def from_json(cls, statement: Mapping[str, Any], *, sid: str = "") -> "Statement":
        principal = statement.get("Principal")
        principals: Mapping[str, tuple[str, ...]] | None
        if principal is None:
            principals = None
        elif principal == "*":
            principals = {"AWS": ("*",)}
        else:
            principals = {kind: _listed(value) for kind, value in principal.items()}
        return cls(
            effect=str(statement["Effect"]),
            actions=_listed(statement.get("Action")),
            not_actions=_listed(statement.get("NotAction")),
            resources=_listed(statement.get("Resource")),
            not_resources=_listed(statement.get("NotResource")),
            principal=principals,
            not_principal="NotPrincipal" in statement,
            conditions={
                operator: {key: _listed(values) for key, values in keys.items()}
                for operator, keys in (statement.get("Condition") or {}).items()
            },
            sid=str(statement.get("Sid") or sid),
        )


def statements(document: Mapping[str, Any], *, name: str = "") -> list[Statement]:
    """A policy document's statements (``Statement`` may be one object or a list)."""
    raw = document.get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    return [Statement.from_json(item, sid=f"{name}#{i}") for i, item in enumerate(items)]


@dataclass(frozen=True, slots=True)
class Request:
    """One authorization: ``action`` on ``resource`` by the role ``principal_arn``."""

    action: str
    resource: str
    principal_arn: str
    account: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    statements: tuple[str, ...] = ()


# -- matching -------------------------------------------------------------------------------------
@cache
def _wildcard(pattern: str, *, segment: bool) -> re.Pattern[str]:
    """``*`` and ``?``; within an ARN segment (``segment``) neither crosses a colon, except a
    ``*`` that ends the segment."""
    parts = []
    for i, char in enumerate(pattern):
        if char == "*":
            parts.append(".*" if not segment or i == len(pattern) - 1 else "[^:]*")
        elif char == "?":
            parts.append("[^:]" if segment else ".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return _wildcard(pattern.lower(), segment=False).fullmatch(action.lower()) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    if resource == "*":  # an action without resource-level permissions: only "*" names it
        return False
    wanted = pattern.split(":", _ARN_SEGMENTS - 1)
    given = resource.split(":", _ARN_SEGMENTS - 1)
    for index, part in enumerate(wanted):
        last = index == len(wanted) - 1
        if last and part.endswith("*"):  # may run on over the remaining segments
            rest = ":".join(given[index:])
            return _wildcard(part, segment=index < _ARN_SEGMENTS - 1).fullmatch(rest) is not None
        if index >= len(given):
            return False
        is_resource = index == _ARN_SEGMENTS - 1
        if _wildcard(part, segment=not is_resource).fullmatch(given[index]) is None:
            return False
    return len(wanted) == len(given)


def _principal_named(statement: Statement, request: Request) -> Truth:
    """Whether a resource or key policy statement's ``Principal`` is the requesting role."""
    if statement.not_principal:
        return Truth.UNKNOWN
    if statement.principal is None:
        return Truth.FALSE
    for value in statement.principal.get("AWS", ()):
        if value in {"*", request.principal_arn}:
            return Truth.TRUE
    return Truth.FALSE


def _names_account(statement: Statement, request: Request) -> bool:
    if statement.principal is None or statement.not_principal:
        return False
    root = f"arn:{request.principal_arn.split(':')[1]}:iam::{request.account}:root"
    return any(value in {root, request.account} for value in statement.principal.get("AWS", ()))


# -- conditions -----------------------------------------------------------------------------------
_STRING: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda v, p: v == p,
    "StringNotEquals": lambda v, p: v != p,
    "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
    "StringNotEqualsIgnoreCase": lambda v, p: v.lower() != p.lower(),
    "StringLike": lambda v, p: _wildcard(p, segment=False).fullmatch(v) is not None,
    "StringNotLike": lambda v, p: _wildcard(p, segment=False).fullmatch(v) is None,
    "ArnEquals": lambda v, p: v == p,
    "ArnNotEquals": lambda v, p: v != p,
    "ArnLike": resource_matches,
    "ArnNotLike": lambda v, p: not resource_matches(p, v),
    "Bool": lambda v, p: v.lower() == p.lower(),
    "NumericEquals": lambda v, p: float(v) == float(p),
    "NumericNotEquals": lambda v, p: float(v) != float(p),
    "NumericLessThan": lambda v, p: float(v) < float(p),
    "NumericLessThanEquals": lambda v, p: float(v) <= float(p),
    "NumericGreaterThan": lambda v, p: float(v) > float(p),
    "NumericGreaterThanEquals": lambda v, p: float(v) >= float(p),
}


def _context_value(context: Mapping[str, str | Sequence[str]], key: str) -> tuple[str, ...] | None:
    lowered = {k.lower(): v for k, v in context.items()}
    if key.lower() not in lowered:
        return None
    return _listed(lowered[key.lower()])


def _known_absent(key: str, context: Mapping[str, Any]) -> bool:
    """Whether ``key``, missing from ``context``, is known to be missing from the request: a
    ``kms:EncryptionContext:<name>`` key when the request's whole encryption context is known
    (``kms:EncryptionContextKeys`` is in the context)."""
    lowered = {k.lower() for k in context}
    return (
        key.lower().startswith("kms:encryptioncontext:") and "kms:encryptioncontextkeys" in lowered
    )


def _absent(base: str, qualifier: str, *, if_exists: bool, values: tuple[str, ...]) -> Truth:
    """A condition on a key the request is known not to have ("IAM JSON policy elements:
    Condition operators"): Null true matches; any other operator does not, unless ...IfExists or
    ForAllValues (true over no values)."""
    if base == "Null":
        return Truth.TRUE if {v.lower() for v in values} == {"true"} else Truth.FALSE
    return Truth.TRUE if if_exists or qualifier == "ForAllValues" else Truth.FALSE


def _condition(
    operator: str, key: str, values: tuple[str, ...], context: Mapping[str, Any]
) -> Truth:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    present = _context_value(context, key)
    if present is None:
        # A key this check does not model is unknown: AWS may or may not set it (and
        # ...IfExists differs from its base only then).
        return (
            _absent(base, qualifier, if_exists=if_exists, values=values)
            if _known_absent(key, context)
            else Truth.UNKNOWN
        )
    if base == "Null":
        return Truth.TRUE if {v.lower() for v in values} == {"false"} else Truth.FALSE
    test = _STRING.get(base)
    if test is None or qualifier not in {"", "ForAnyValue", "ForAllValues"}:
        return Truth.UNKNOWN
    negated = "Not" in base

    def one(value: str) -> bool:
        if negated:  # negated operators: none of the policy's values may match (NOR)
            return all(test(value, wanted) for wanted in values)
        return any(test(value, wanted) for wanted in values)

    if qualifier == "ForAllValues":
        return Truth.TRUE if all(one(value) for value in present) else Truth.FALSE
    return Truth.TRUE if any(one(value) for value in present) else Truth.FALSE


def conditions_hold(statement: Statement, context: Mapping[str, Any]) -> Truth:
    """All operators and keys must hold (AND); any unknown makes the whole unknown."""
    result = Truth.TRUE
    for operator, keys in statement.conditions.items():
        for key, values in keys.items():
            truth = _condition(operator, key, values, context)
            if truth is Truth.FALSE:
                return Truth.FALSE
            if truth is Truth.UNKNOWN:
                result = Truth.UNKNOWN
    return result


def _scope(statement: Statement, request: Request) -> bool:
    """Whether the statement's action and resource elements cover the request."""
    if statement.actions:
        acts = any(action_matches(p, request.action) for p in statement.actions)
    else:
        acts = not any(action_matches(p, request.action) for p in statement.not_actions)
    if statement.resources:
        covers = any(resource_matches(p, request.resource) for p in statement.resources)
    elif statement.not_resources:
        covers = not any(resource_matches(p, request.resource) for p in statement.not_resources)
    else:  # key policies may leave Resource out only by mistake; "*" is what they mean
        covers = True
    return acts and covers


# -- evaluation -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Policies:
    """Everything that decides one request."""

    identity: Sequence[Statement]
    boundary: Sequence[Statement] | None = None  # the role's permissions boundary, if any
    resource: Sequence[Statement] = ()  # the resource's own policy (bucket, secret, table ...)
    key: Sequence[Statement] | None = None  # a KMS key's key policy (KMS requests only)


def _applies(statement: Statement, request: Request, *, principal: bool) -> Truth:
    if not _scope(statement, request):
        return Truth.FALSE
    if principal:
        named = _principal_named(statement, request)
        if named is not Truth.TRUE and not _names_account(statement, request):
            return named
    return conditions_hold(statement, request.context)


def _allows(found: Iterable[Statement], request: Request, *, principal: bool) -> list[str]:
    return [
        s.sid
        for s in found
        if s.effect == "Allow" and _applies(s, request, principal=principal) is Truth.TRUE
    ]


def evaluate(request: Request, policies: Policies) -> Decision:
    """The decision for ``request`` (see the module's rules)."""
    in_scope: list[tuple[Statement, bool]] = [(s, False) for s in policies.identity]
    in_scope += [(s, True) for s in policies.resource]
    in_scope += [(s, True) for s in policies.key or ()]
    for statement, principal in in_scope:
        if statement.effect != "Deny":
            continue
        truth = _applies(statement, request, principal=principal)
        if truth is not Truth.FALSE:
            kind = "explicit deny" if truth is Truth.TRUE else "deny with unknown conditions"
            return Decision(False, f"{kind}: {statement.sid}", (statement.sid,))
    identity = _allows(policies.identity, request, principal=False)
    bounded = policies.boundary is None or _allows(policies.boundary, request, principal=False)
    if identity and not bounded:
        return Decision(False, "the permissions boundary does not allow it")
    if policies.key is not None:
        return _key_decision(request, policies.key, identity)
    if identity:
        return Decision(True, "an identity policy allows it", tuple(identity))
    by_resource = [
        s.sid
        for s in policies.resource
        if s.effect == "Allow"
        and _principal_named(s, request) is Truth.TRUE
        and _applies(s, request, principal=True) is Truth.TRUE
    ]
    if by_resource:
        return Decision(True, "the resource's policy allows the role", tuple(by_resource))
    return Decision(False, "no policy allows it (implicit deny)")


def _key_decision(request: Request, key: Sequence[Statement], identity: list[str]) -> Decision:
    """KMS: the key policy allows the role itself, or lets IAM decide for the account."""
    direct = [
        s.sid
        for s in key
        if s.effect == "Allow"
        and _principal_named(s, request) is Truth.TRUE
        and _applies(s, request, principal=True) is Truth.TRUE
    ]
    if direct:
        return Decision(True, "the key policy allows the role", tuple(direct))
    delegated = [
        s.sid
        for s in key
        if s.effect == "Allow"
        and _names_account(s, request)
        and _scope(s, request)
        and conditions_hold(s, request.context) is Truth.TRUE
    ]
    if not delegated:
        return Decision(False, "the key policy neither allows the role nor the account")
    if identity:
        return Decision(True, "the key policy lets IAM decide; IAM allows", tuple(identity))
    return Decision(False, "no identity policy allows it (the key policy lets IAM decide)")
