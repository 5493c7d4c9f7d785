"""Synthesize the app once per session, with asset bundling off (it would run pip).

``stacks``, ``templates`` and ``resources`` hold every stack by its path: the four top-level
stacks by name, and each main stack's nested stacks: its monitoring as ``MONITORING[<main>]``, its
REST API as ``REST[<main>]``, its archive as ``ARCHIVE[<main>]``, its trading console as
``CONSOLE[<main>]``. ``watched`` (the monitoring) and ``nested`` (any of them) give a nested
stack's resources as the main stack passes its parameters, so a reference to the main stack's
topic, queue or function reads as it would there.
"""

import os
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from stacks.assembly import inline_parameters
from stacks.composition import build_app
from stacks.config import DeploymentConfig

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

NO_BUNDLING: dict[str, object] = {"aws:cdk:bundling-stacks": []}
PRIMARY, DR = "Exchange-prod-primary", "Exchange-prod-dr"
PRIMARY_BASE, DR_BASE = "Exchange-prod-primary-base", "Exchange-prod-dr-base"
MAIN_STACKS = (PRIMARY, DR)
# Each main stack's alarms and dashboard: a nested stack (stacks.constructs.monitoring.watch).
MONITORING = {stack: f"{stack}/Monitoring/Watch" for stack in MAIN_STACKS}
# Its REST API and its archive (Firehose, Glue, Athena): nested stacks too.
REST = {stack: f"{stack}/Api/RestStack" for stack in MAIN_STACKS}
ARCHIVE = {stack: f"{stack}/Archive" for stack in MAIN_STACKS}
# Its trading console (S3, CloudFront, the bucket deployment): one more.
CONSOLE = {stack: f"{stack}/Console" for stack in MAIN_STACKS}
NESTED = (*MONITORING.values(), *REST.values(), *ARCHIVE.values(), *CONSOLE.values())

Resources = dict[str, dict[str, Any]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/infrastructure/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.infrastructure)


@pytest.fixture(scope="session")
def app() -> App:
    app = build_app(context=NO_BUNDLING, nag=False)
    app.synth()
    return app


@pytest.fixture(scope="session")
def config(app: App) -> DeploymentConfig:
    return DeploymentConfig.from_node(app.node)


@pytest.fixture(scope="session")
def stacks(app: App) -> dict[str, Stack]:
    return {node.node.path: node for node in app.node.find_all() if isinstance(node, Stack)}


@pytest.fixture(scope="session")
def templates(stacks: dict[str, Stack]) -> dict[str, Template]:
    return {name: Template.from_stack(stack) for name, stack in stacks.items()}


@pytest.fixture(scope="session")
def resources(templates: dict[str, Template]) -> dict[str, Resources]:
    """Each stack's ``Resources`` section, as JSON."""
    return {name: template.to_json()["Resources"] for name, template in templates.items()}


def of_type(resources: Resources, resource_type: str) -> Resources:
    return {name: r for name, r in resources.items() if r["Type"] == resource_type}


def flatten(value: object) -> str:
    """An intrinsic-laden value as one comparable string (``Fn::Join`` parts concatenated,
    references as ``<Name>``), e.g. an ARN built from a table name."""
    match value:
        case str():
            return value
        case {"Fn::Join": [str(separator), list(parts)]}:
            return separator.join(flatten(part) for part in parts)
        case {"Ref": str(name)}:
            return f"<{name}>"
        case {"Fn::GetAtt": [str(name), str(attribute)]}:
            return f"<{name}.{attribute}>"
        case dict() | list():
            return repr(value)
    return str(value)


def nested(resources: dict[str, Resources], path: str) -> Resources:
    """The nested stack at ``path`` (``<main stack>/<construct path>``), each ``Ref`` to one of its
    parameters replaced by the value the main stack passes for it."""
    stack, _, inner = path.partition("/")
    prefix = inner.replace("/", "")
    ((_, resource),) = [
        (logical, r)
        for logical, r in of_type(resources[stack], "AWS::CloudFormation::Stack").items()
        if logical.startswith(prefix) and "NestedStack" in logical[len(prefix) :][:20]
    ]
    parameters: dict[str, Any] = resource["Properties"].get("Parameters", {})
    found: Resources = inline_parameters(resources[path], parameters)
    return found


def watched(resources: dict[str, Resources], stack: str) -> Resources:
    """The monitoring nested stack of ``stack`` (see ``nested``)."""
    return nested(resources, MONITORING[stack])


def with_nested(resources: dict[str, Resources], stack: str) -> Resources:
    """``stack``'s resources and those of each of its nested stacks, parameters inlined: what a
    whole region's main stack deploys (the REST API's methods beside the functions they call)."""
    found = dict(resources[stack])
    for path in NESTED:
        if path.startswith(f"{stack}/"):
            found.update(nested(resources, path))
    return found
