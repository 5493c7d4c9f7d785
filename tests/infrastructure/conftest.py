"""Synthesize the app once per session, with asset bundling off (it would run pip).

``stacks``, ``templates`` and ``resources`` hold every stack by its path: the four top-level
stacks by name, and each main stack's monitoring nested stack as ``MONITORING[<main stack>]``.
``watched`` gives the nested stack's resources as the main stack passes its parameters, so a
reference to the main stack's topic or queue reads as it would there.
"""

import os
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from stacks.composition import build_app
from stacks.config import DeploymentConfig

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

NO_BUNDLING: dict[str, object] = {"aws:cdk:bundling-stacks": []}
PRIMARY, DR = "Exchange-prod-primary", "Exchange-prod-dr"
PRIMARY_BASE, DR_BASE = "Exchange-prod-primary-base", "Exchange-prod-dr-base"
MAIN_STACKS = (PRIMARY, DR)
# Each main stack's alarms and dashboard: a nested stack (stacks.constructs.monitoring.watch).
MONITORING = {stack: f"{stack}/Monitoring/Watch" for stack in MAIN_STACKS}

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


def watched(resources: dict[str, Resources], stack: str) -> Resources:
    """The monitoring nested stack of ``stack``, each ``Ref`` to one of its parameters replaced by
    the value the main stack passes for it."""
    ((_, nested),) = of_type(resources[stack], "AWS::CloudFormation::Stack").items()
    parameters: dict[str, Any] = nested["Properties"].get("Parameters", {})

    def inline(value: Any) -> Any:
        match value:
            case {"Ref": str(name)} if name in parameters:
                return parameters[name]
            case dict():
                return {key: inline(item) for key, item in value.items()}
            case list():
                return [inline(item) for item in value]
        return value

    found: Resources = inline(resources[MONITORING[stack]])
    return found
