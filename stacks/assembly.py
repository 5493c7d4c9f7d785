"""Read a synthesized main stack together with its nested stacks, as one set of resources.

The main stack keeps some groups of resources in nested stacks (CloudFormation allows 500
resources per stack): the REST API, the archive, the alarms and dashboard. A reader of the
synthesized template that wants them all (local mode mirrors the REST API's methods) loads each
nested template the parent names (``Metadata["aws:asset:path"]`` of its
``AWS::CloudFormation::Stack``, a file of the cloud assembly) and replaces every ``Ref`` to one of
its parameters with the value the parent passes for it, so a reference reads as it would in the
parent (e.g. a function's ``Fn::GetAtt [..., "Arn"]``).
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

NESTED_STACK: Final = "AWS::CloudFormation::Stack"
ASSET_PATH: Final = "aws:asset:path"


def inline_parameters(value: Any, parameters: Mapping[str, Any]) -> Any:
    """``value`` with each ``{"Ref": <parameter>}`` replaced by the parent's value for it.

    >>> inline_parameters({"A": [{"Ref": "p"}, {"Ref": "q"}]}, {"p": {"Ref": "Fn"}})
    {'A': [{'Ref': 'Fn'}, {'Ref': 'q'}]}
    """
    match value:
        case {"Ref": str(name)} if name in parameters:
            return parameters[name]
        case dict():
            return {key: inline_parameters(item, parameters) for key, item in value.items()}
        case list():
            return [inline_parameters(item, parameters) for item in value]
    return value


def inlined_resources(template: Mapping[str, Any], directory: Path) -> dict[str, Any]:
    """The parent's ``Resources`` and, recursively, each nested stack's (parameters inlined)."""
    resources: dict[str, Any] = dict(template.get("Resources", {}))
    for resource in list(resources.values()):
        if resource.get("Type") != NESTED_STACK:
            continue
        path = resource.get("Metadata", {}).get(ASSET_PATH)
        if not isinstance(path, str):
            continue
        nested = json.loads((directory / path).read_text())
        parameters = resource.get("Properties", {}).get("Parameters", {})
        inlined = inline_parameters(nested, parameters)
        resources.update(inlined_resources(inlined, directory))
    return resources
