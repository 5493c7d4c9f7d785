"""The checks ``make synth`` runs on ``cdk.out`` after ``cdk synth``, printed as counts.

- cdk-nag (AwsSolutions) ran inside the synth as a validation plugin; its report is read here.
- cfn-lint (this venv) with ``.cfnlintrc``.
- checkov (its own venv, ``.venv-checkov``) with ``.checkov.yaml``, offline.

Exits 1 when any of them has an unsuppressed finding: a cdk-nag finding not acknowledged, a cfn-lint
error or warning not ignored with its reason, a checkov failure. Each tool's time is printed (CI's
budget).
Usage: ``python -m stacks.checks cdk.out --checkov .venv-checkov/bin/checkov``.
"""

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stacks import constants

NAG_PLUGIN = "AwsSolutions"
CFN_LINT_LINE = re.compile(r":(?P<level>[EWI])\d{4}:")
# A YAML list item naming a rule, e.g. "  - W3010" or "  - CKV_AWS_18" (each has its reason above).
LISTED_RULE = re.compile(r"^\s*-\s*(?P<rule>[A-Z][A-Z0-9_]+)\s*$", re.MULTILINE)


def listed_rules(config: Path) -> list[str]:
    return LISTED_RULE.findall(config.read_text())


@dataclass(frozen=True, slots=True)
class Counts:
    tool: str
    failures: int
    detail: str

    @property
    def ok(self) -> bool:
        return self.failures == 0


def nag(outdir: Path) -> Counts:
    """Findings left in the validation report (the synth fails on any), and the acknowledged ones
    recorded in the stacks' metadata."""
    report = json.loads((outdir / "validation-report.json").read_text())
    errors = sum(
        len(v["violatingConstructs"])
        for p in report["pluginReports"]
        if p["pluginName"] == NAG_PLUGIN
        for v in p["violations"]
    )
    acknowledged: set[tuple[str, str]] = set()
    for metadata in outdir.glob("*.metadata.json"):
        for path, entries in json.loads(metadata.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    acknowledged |= {(path, r) for r in entry["data"] if NAG_PLUGIN in r}
    rules = sorted({rule.split("[")[0].split("::")[-1] for _, rule in acknowledged})
    return Counts(
        "cdk-nag AwsSolutions",
        errors,
        f"{errors} unacknowledged findings; {len(acknowledged)} acknowledgments with reasons"
        f" next to their constructs ({', '.join(rules)})",
    )


def cfn_lint(templates: list[Path]) -> Counts:
    binary = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(  # noqa: S603 - our own fixed command line
        [str(binary), "--format", "parseable", "--", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
        cwd=constants.REPO_ROOT,
    )
    levels = [m["level"] for m in map(CFN_LINT_LINE.search, result.stdout.splitlines()) if m]
    errors, warnings = levels.count("E"), levels.count("W")
    # cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational; others = crash.
    crashed = result.returncode & ~0b1110 != 0
    if errors or warnings or crashed:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
    ignored = listed_rules(constants.REPO_ROOT / ".cfnlintrc")
    return Counts(
        "cfn-lint",
        errors + warnings + int(crashed),
        f"{errors} errors, {warnings} warnings ({', '.join(ignored)} ignored with reasons"
        " in .cfnlintrc)",
    )


def checkov(templates: list[Path], binary: Path) -> Counts:
    config = constants.REPO_ROOT / ".checkov.yaml"
    result = subprocess.run(  # noqa: S603 - our own fixed command line
        [
            str(binary),
            "--config-file",
            str(config),
            "--output",
            "json",
            *(arg for template in templates for arg in ("--file", str(template))),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=constants.REPO_ROOT,
    )
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
        return Counts("checkov", 1, "did not produce a JSON report")
    reports = reports if isinstance(reports, list) else [reports]
    summary = {
        key: sum(r["summary"][key] for r in reports)
        for key in ("passed", "failed", "skipped", "parsing_errors")
    }
    for report in reports:
        for failure in report["results"]["failed_checks"]:
            print(
                f"  checkov {failure['check_id']} {failure['resource']}: {failure['check_name']}",
                file=sys.stderr,
            )
    skips = listed_rules(config)
    return Counts(
        "checkov",
        summary["failed"] + summary["parsing_errors"],
        f"{summary['passed']} passed, {summary['failed']} failed,"
        f" {summary['parsing_errors']} parsing errors; {len(skips)} checks skipped with"
        " reasons in .checkov.yaml",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--checkov", type=Path, required=True, help="the checkov executable")
    args = parser.parse_args(argv)
    templates = sorted(args.outdir.glob("*.template.json"))
    if not templates:
        print(f"no templates in {args.outdir}: run cdk synth first", file=sys.stderr)
        return 1
    checks: list[Callable[[], Counts]] = [
        lambda: nag(args.outdir),
        lambda: cfn_lint(templates),
        lambda: checkov(templates, args.checkov),
    ]
    # cfn-lint and checkov are separate processes reading the same files: run them side by side.
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = list(pool.map(_timed, checks))
    for counts, seconds in results:
        print(f"{counts.tool}: {counts.detail} ({seconds:.0f} s)")
    return 0 if all(counts.ok for counts, _ in results) else 1


def _timed(check: Callable[[], Counts]) -> tuple[Counts, float]:
    start = time.monotonic()
    counts = check()
    return counts, time.monotonic() - start


if __name__ == "__main__":
    sys.exit(main())
