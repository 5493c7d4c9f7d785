"""Docker-free bundling of the shared Lambda layer.

The CDK calls ``try_bundle`` before it would fall back to a bundling container. We install the
layer's pinned requirements as manylinux wheels for the Lambda runtime with the local pip, then
copy the package source in, which needs nothing but Python and PyPI. Several platform tags may be
given (pip takes any of them), e.g. manylinux2014 and manylinux_2_28 for a wheel that is only
built for the newer glibc.
"""

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling

Runner = Callable[[Sequence[str]], None]


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True)  # noqa: S603 - our own fixed pip command line


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    def __init__(
        self,
        *,
        source_dir: Path,
        package: str,
        platforms: Sequence[str],
        python_version: str,
        prune: Sequence[str] = (),
        runner: Runner = _run,
    ) -> None:
        self._source_dir = source_dir
        self._package = package
        self._platforms = tuple(platforms)
        self._python_version = python_version
        self._prune = tuple(prune)
        self._runner = runner

    def pip_command(self, target: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *(arg for platform in self._platforms for arg in ("--platform", platform)),
            "--implementation",
            "cp",
            "--python-version",
            self._python_version,
            "--only-binary=:all:",
            "--target",
            str(target),
            "--requirement",
            str(self._source_dir / "requirements.txt"),
        ]

    # jsii passes both arguments positionally.
    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        target = Path(output_dir) / "python"
        self._runner(self.pip_command(target))
        for name in self._prune:
            for path in [target / name, *target.glob(f"{name}-*.dist-info")]:
                shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(
            self._source_dir / "python" / self._package,
            target / self._package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"),
            dirs_exist_ok=True,
        )
        return True
