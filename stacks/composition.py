"""Build the CDK app: four stacks (a base and a main stack per region), tags and cdk-nag.

Deploy order (``cdk deploy --all`` follows the dependencies): the DR base (its key and snapshot
bucket), the primary base (replicates snapshots into it), the primary (tables and secrets with
replicas in the DR key, the Aurora global cluster), then the DR stack (the Aurora secondary joins
the global cluster; the functions use the table replicas).

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
from stacks.base_stack import RegionalBaseStack
from stacks.config import DeploymentConfig, RegionRole
from stacks.regional_stack import RegionalStack


def cdk_json_context(path: Path = constants.REPO_ROOT / "cdk.json") -> dict[str, Any]:
    context: dict[str, Any] = json.loads(path.read_text())["context"]
    return context


def stack_id(config: DeploymentConfig, role: RegionRole, *, base: bool = False) -> str:
    return f"Exchange-{config.environment}-{role.value}{'-base' if base else ''}"


def tag_values(config: DeploymentConfig) -> tuple[str, ...]:
    """The value of each of ``constants.TAG_KEYS``, in that order."""
    return (
        constants.PROJECT,
        config.environment,
        config.owner,
        config.cost_center,
        config.compliance,
    )


def build_app(
    *,
    context: dict[str, Any] | None = None,
    outdir: str | None = None,
    nag: bool = True,
) -> App:
    """The whole app. Tests pass ``nag=False`` and switch bundling off through ``context``."""
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    config = DeploymentConfig.from_node(app.node)
    primary, dr = RegionRole.PRIMARY, RegionRole.DR
    dr_base = RegionalBaseStack(app, stack_id(config, dr, base=True), config=config, role=dr)
    primary_base = RegionalBaseStack(
        app, stack_id(config, primary, base=True), config=config, role=primary, replicate_to=dr_base
    )
    primary_stack = RegionalStack(
        app,
        stack_id(config, primary),
        config=config,
        role=primary,
        base=primary_base,
        peer_base=dr_base,
    )
    RegionalStack(
        app, stack_id(config, dr), config=config, role=dr, base=dr_base, primary=primary_stack
    )
    for key, value in zip(constants.TAG_KEYS, tag_values(config), strict=True):
        Tags.of(app).add(key, value)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app
