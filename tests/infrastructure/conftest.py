"""Synthesize the app once per session, with asset bundling off (it would run pip)."""

import os

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from stacks.composition import build_app

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

NO_BUNDLING: dict[str, object] = {"aws:cdk:bundling-stacks": []}


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
def stacks(app: App) -> dict[str, Stack]:
    return {child.node.id: child for child in app.node.children if isinstance(child, Stack)}


@pytest.fixture(scope="session")
def templates(stacks: dict[str, Stack]) -> dict[str, Template]:
    return {name: Template.from_stack(stack) for name, stack in stacks.items()}
