"""The IAM fidelity check: every recorded call, as the deployment would make it, against the
deployed policies of the principal that made it.

For each call of the log (``local.recording``): the principal's roles (``Deployment.roles_of``),
the call translated to the deployment (``Translation``), its (action, resource) requirements
(``actions.requirements``) plus the KMS requests its service makes for the caller when the
resource is under a customer managed key (``actions.key_requirements``), each evaluated against
the role's identity policies, the resource's policy and the key policy (``policy.evaluate``).

The request context holds what is known of every such request in AWS: TLS
(``aws:SecureTransport``; the SDK calls AWS over HTTPS), the principal and its account, the region,
and what the requirement adds (``kms:ViaService``, an encryption context, ``s3:prefix`` ...).

Calls without a principal are the local stack's own (provisioning, seeding, the event source
mappings' reads unless attributed): counted by operation in ``Report.unattributed``, for the
caller to hold against the list of operations it expects from the stack itself.
"""

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.fidelity.actions import Call, Requirement, Unmapped, key_requirements, requirements
from tests.fidelity.deployment import Deployment, Role
from tests.fidelity.policy import Decision, Policies, Request, evaluate
from tests.fidelity.translate import Translation, Untranslatable

Triple = tuple[str, str, str]  # (principal, action, resource)


@dataclass(frozen=True, slots=True)
class Finding:
    principal: str
    what: str  # the call, or the (action, resource) refused
    reason: str


@dataclass
class Report:
    calls: int = 0
    allowed: set[Triple] = field(default_factory=set)
    denied: dict[Triple, Finding] = field(default_factory=dict)
    untranslatable: set[Finding] = field(default_factory=set)
    unmapped: set[Finding] = field(default_factory=set)
    unknown_principals: set[str] = field(default_factory=set)
    unattributed: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def triples(self) -> set[Triple]:
        return self.allowed | set(self.denied)

    @property
    def problems(self) -> list[str]:
        """Everything that fails the check, one line each."""
        lines = [f"DENIED {f.principal}: {f.what} ({f.reason})" for f in self.denied.values()]
        lines += [
            f"UNTRANSLATABLE {f.principal}: {f.what} ({f.reason})" for f in self.untranslatable
        ]
        lines += [f"UNMAPPED {f.principal}: {f.what} ({f.reason})" for f in self.unmapped]
        lines += [f"UNKNOWN PRINCIPAL {p}" for p in sorted(self.unknown_principals)]
        return sorted(lines)

    def summary(self) -> str:
        principals = {principal for principal, _, _ in self.triples}
        return (
            f"{self.calls} calls; {len(self.triples)} distinct (principal, action, resource) over"
            f" {len(principals)} principals; {len(self.denied)} denied,"
            f" {len(self.untranslatable)} untranslatable, {len(self.unmapped)} unmapped;"
            f" {sum(self.unattributed.values())} calls of the local stack itself"
        )


def read_calls(path: Path) -> list[Call]:
    return [Call.from_record(json.loads(line)) for line in path.read_text().splitlines() if line]


class Checker:
    def __init__(self, deployment: Deployment, translation: Translation) -> None:
        self.deployment = deployment
        self.translation = translation
        self._decisions: dict[tuple[str, Requirement], Decision] = {}
        self._roles: dict[str, list[Role]] = {}

    def requirements_of(self, call: Call, *, local: bool = True) -> list[Requirement]:
        """What ``call`` needs once deployed (raises Untranslatable or Unmapped). ``local``
        False: the call is already in the deployment's terms (a call only AWS mode makes)."""
        deployment = self.deployment
        deployed = self.translation.translate(call) if local else call
        found = requirements(deployed, account=deployment.account)
        for requirement in list(found):
            encrypted = deployment.encryption(requirement.resource)
            if encrypted is not None:
                owner, key = encrypted
                found += key_requirements(
                    requirement,
                    key_arn=key,
                    region=deployment.region,
                    account=deployment.account,
                    encrypted=owner,
                )
        return found

    def decide(self, role: Role, requirement: Requirement) -> Decision:
        cached = self._decisions.get((role.arn, requirement))
        if cached is not None:
            return cached
        deployment = self.deployment
        context = {
            "aws:SecureTransport": "true",
            "aws:PrincipalArn": role.arn,
            "aws:PrincipalAccount": deployment.account,
            "aws:RequestedRegion": deployment.region,
            **requirement.context,
        }
        request = Request(
            requirement.action, requirement.resource, role.arn, deployment.account, context
        )
        key = None
        if requirement.action.startswith("kms:"):
            key = deployment.key_policy(requirement.resource) or []
        policies = Policies(
            identity=role.identity,
            boundary=role.boundary,
            resource=deployment.resource_policy(requirement.resource),
            key=key,
        )
        decision = evaluate(request, policies)
        self._decisions[role.arn, requirement] = decision
        return decision

    def check(
        self, calls: Iterable[Call], report: Report | None = None, *, local: bool = True
    ) -> Report:
        report = report or Report()
        for call in calls:
            report.calls += 1
            principal = call.principal
            if principal is None:
                report.unattributed[call.service, call.operation] += 1
                continue
            roles = self._roles.get(principal)
            if roles is None:
                roles = self._roles[principal] = self.deployment.roles_of(principal)
            if not roles:
                report.unknown_principals.add(principal)
                continue
            what = (
                f"{call.service}.{call.operation} {json.dumps(dict(call.params), sort_keys=True)}"
            )
            try:
                needed = self.requirements_of(call, local=local)
            except Untranslatable as exc:
                report.untranslatable.add(Finding(principal, what, str(exc)))
                continue
            except Unmapped as exc:
                report.unmapped.add(Finding(principal, what, str(exc)))
                continue
            for requirement in needed:
                triple = (principal, requirement.action, requirement.resource)
                for role in roles:
                    decision = self.decide(role, requirement)
                    if not decision.allowed:
                        refused = (
                            f"{requirement.action} on {requirement.resource} as {role.logical}"
                        )
                        report.denied.setdefault(
                            triple, Finding(principal, refused, decision.reason)
                        )
                        break
                else:
                    report.allowed.add(triple)
        return report


def check(calls: Iterable[Call], deployment: Deployment, translation: Translation) -> Report:
    return Checker(deployment, translation).check(calls)
