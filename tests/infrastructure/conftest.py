"""Synthesize the app once per session, with asset bundling off (it would run pip)."""

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
    return {child.node.id: child for child in app.node.children if isinstance(child, Stack)}


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
