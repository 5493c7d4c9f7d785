"""Build the CDK app: the regional stacks, tags and cdk-nag.

``python app.py`` and the tests do not read ``cdk.json`` the way the CDK CLI does, so its context
(feature flags included) is loaded here, and the CLI's own context (``-c``, via
``CDK_CONTEXT_JSON``) is laid on top by the App as usual.
"""

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from stacks import constants
from stacks.config import DeploymentConfig, RegionRole
from stacks.regional_stack import RegionalStack


def cdk_json_context(path: Path = constants.REPO_ROOT / "cdk.json") -> dict[str, Any]:
    context: dict[str, Any] = json.loads(path.read_text())["context"]
    return context


def stack_id(config: DeploymentConfig, role: RegionRole) -> str:
    return f"Exchange-{config.environment}-{role.value}"


def build_app(
    *,
    context: dict[str, Any] | None = None,
    outdir: str | None = None,
    nag: bool = True,
) -> App:
    """The whole app. Tests pass ``nag=False`` and switch bundling off through ``context``."""
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    config = DeploymentConfig.from_node(app.node)
    for role in RegionRole:
        RegionalStack(app, stack_id(config, role), config=config, role=role)
    for key, value in (
        ("Project", constants.PROJECT),
        ("Environment", config.environment),
        ("Owner", config.owner),
        ("CostCenter", config.cost_center),
        ("Compliance", config.compliance),
    ):
        Tags.of(app).add(key, value)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app
