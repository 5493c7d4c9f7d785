"""Synthesize the CDK app (asset bundling off, as the infrastructure tests do) in a child process
and read every stack's template: what the e2e checks compare the local stack with. The child
keeps jsii's Node runtime out of the test process.

    python -m tests.fidelity.synth OUTDIR   # writes OUTDIR/<stack>.json and OUTDIR/regions.json
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

from tests.fidelity.cfn import Stacks, stack_templates

ROOT: Final = Path(__file__).resolve().parents[2]
REGIONS_FILE: Final = "regions.json"


def write_templates(outdir: Path) -> None:
    """Synthesize in this process and write the templates (the child's part)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk import Stack  # noqa: PLC0415 - only the child loads the CDK
    from aws_cdk.assertions import Template  # noqa: PLC0415

    from stacks.composition import build_app  # noqa: PLC0415

    app = build_app(context={"aws:cdk:bundling-stacks": []}, nag=False)
    app.synth()
    outdir.mkdir(parents=True, exist_ok=True)
    regions = {}
    for child in app.node.children:
        if isinstance(child, Stack):
            body = Template.from_stack(child).to_json()
            (outdir / f"{child.stack_name}.json").write_text(json.dumps(body))
            regions[child.stack_name] = child.region
    (outdir / REGIONS_FILE).write_text(json.dumps(regions))


def synthesize(outdir: Path, *, timeout_s: float = 600) -> Stacks:
    """Every stack of the app, synthesized by a child process into ``outdir``."""
    subprocess.run(
        [sys.executable, "-m", "tests.fidelity.synth", str(outdir)],
        cwd=ROOT,
        check=True,
        timeout=timeout_s,
        capture_output=True,
    )
    return read(outdir)


def read(outdir: Path) -> Stacks:
    regions: dict[str, str] = json.loads((outdir / REGIONS_FILE).read_text())
    templates = {name: json.loads((outdir / f"{name}.json").read_text()) for name in regions}
    return Stacks(stack_templates(templates, regions))


if __name__ == "__main__":
    write_templates(Path(sys.argv[1]))
