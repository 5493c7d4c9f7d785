"""cdk-nag acknowledgments, kept next to the resources they excuse.

Each construct acknowledges its own findings in one call, naming each rule (with its finding, for
rules like IAM5 that report several) and a reason specific to that resource.
"""

from collections.abc import Mapping

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 40
# cdk-nag's pack, and the CDK's own template validation (core:validateAgainstDefaultRules).
RULE_PREFIXES = ("AwsSolutions-", "CloudFormation-Validate::")


def acknowledge(construct: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge each ``rule -> reason`` on ``construct`` and everything under it."""
    for rule, reason in reasons.items():
        if not rule.startswith(RULE_PREFIXES):
            raise ValueError(f"not a cdk-nag or CloudFormation-Validate rule: {rule!r}")
        if len(reason) < MIN_REASON_LENGTH:
            raise ValueError(f"{rule}: give a specific reason, not {reason!r}")
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=rule, reason=reason) for rule, reason in reasons.items())
    )


def render(scope: IConstruct, value: str) -> str:
    """A value as cdk-nag prints it in a finding id: references become ``<LogicalId>`` or
    ``<LogicalId.Attr>``, pseudo parameters ``<AWS::AccountId>``, joins are flattened.

    Used to acknowledge a finding about a resource ARN without copying generated logical ids.
    """
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(node: object) -> str:
    match node:
        case str():
            return node
        case {"Ref": str(name)}:
            return f"<{name}>"
        case {"Fn::GetAtt": [str(name), str(attribute)]}:
            return f"<{name}.{attribute}>"
        case {"Fn::Join": [str(separator), list(parts)]}:
            return separator.join(_flatten(part) for part in parts)
    raise ValueError(f"cannot render {node!r} the way cdk-nag does")
