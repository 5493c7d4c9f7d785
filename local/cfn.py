"""Reading a synthesized CloudFormation template: resources of a type, and the catalog function or
resource an intrinsic (``Ref``, ``Fn::GetAtt``, anywhere inside ``Fn::Join`` ...) refers to.

The parts of ``local.template`` that read the API, the queues and the keys share these.
"""

from collections.abc import Iterator, Mapping
from typing import Any

Resources = dict[str, dict[str, Any]]


class TemplateError(RuntimeError):
    """The template does not have what local mode needs, or synthesis failed."""


def of_type(resources: Resources, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of every resource of CloudFormation type ``kind``."""
    for logical, resource in resources.items():
        if resource.get("Type") == kind:
            yield logical, resource.get("Properties") or {}


def referenced_logical(value: object) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` names, directly (not inside other functions)."""
    match value:
        case {"Fn::GetAtt": [str(logical), *_]} | {"Ref": str(logical)}:
            return logical
    return None


def referenced_function(value: object, by_logical: Mapping[str, str]) -> str | None:
    """The catalog function an intrinsic refers to (its ARN or name), anywhere inside it."""
    logical = referenced_logical(value)
    if logical is not None:
        return by_logical.get(logical)
    match value:
        case dict():
            values: list[object] = list(value.values())
        case list():
            values = list(value)
        case _:
            return None
    for item in values:
        found = referenced_function(item, by_logical)
        if found is not None:
            return found
    return None
