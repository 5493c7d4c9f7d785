"""One recorded AWS API call (``Call``), one (IAM action, resource) it needs (``Requirement``), and
``Unmapped`` for a call whose authorization is not known."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

PARTITION: Final = "aws"


class Unmapped(LookupError):
    """The call's IAM authorization is not known here, or its resource cannot be told."""


@dataclass(frozen=True, slots=True)
class Call:
    """One recorded API call (``local.recording``'s line)."""

    principal: str | None
    service: str  # botocore's service name: dynamodb, kinesis, apigatewaymanagementapi, ...
    operation: str
    region: str
    params: Mapping[str, Any] = field(default_factory=dict)
    endpoint: str | None = None
    thread: str = ""

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Call":
        return cls(
            principal=record.get("principal"),
            service=str(record["service"]),
            operation=str(record["operation"]),
            region=str(record.get("region") or ""),
            params=dict(record.get("params") or {}),
            endpoint=record.get("endpoint"),
            thread=str(record.get("thread") or ""),
        )


@dataclass(frozen=True, slots=True)
class Requirement:
    action: str
    resource: str
    # The request's condition keys: strings, or a tuple for a multivalued key
    # (kms:EncryptionContextKeys).
    context: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.action, self.resource, tuple(sorted(self.context.items()))))


def param(call: Call, name: str) -> str:
    """The call's parameter ``name``, a non-empty string, or Unmapped."""
    value = call.params.get(name)
    if not isinstance(value, str) or not value:
        raise Unmapped(f"{call.service}.{call.operation} without {name}")
    return value
