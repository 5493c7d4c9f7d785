"""Compile the hot modules of the core with mypyc, next to their sources.

Run it by path, from anywhere: ``python engine_service/core/build.py`` (``make build-engine``); by
path, because importing the package refuses a stale build, and rebuilding is the cure.
The same ``.py`` files stay the one source: without the ``.so`` files (git ignores them) the
pure-Python modules are imported instead, and they behave identically, only slower. Use ``--clean``
to delete the compiled files. Importing ``engine_service.core`` fails while compiled files are
older than their sources, so stale native code never runs.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

CORE = Path(__file__).resolve().parent
if __name__ == "__main__" and sys.path and Path(sys.path[0]).resolve() == CORE:
    del sys.path[0]  # run by path: keep this folder's modules from shadowing others
ROOT = CORE.parent.parent
# The modules on the hot path. ``state`` and ``snapshot`` (msgspec Structs), and ``operator``
# and ``replay`` (operators' rare commands; recovery), stay interpreted.
COMPILED = [
    "book.py",
    "recent.py",
    "rules.py",
    "stops.py",
    "symbol.py",
    "matcher.py",
    "engine.py",
]
GROUP = "engine_service.core._native"
# Hashes of the sources the ``.so`` files were built from: stale native code must never run.
STAMP = CORE / "_native.stamp.json"


def _digest(name: str) -> str:
    return hashlib.sha256((CORE / name).read_bytes()).hexdigest()


def stale_sources() -> list[str]:
    """Sources changed since the compiled modules were built (empty when none are built)."""
    if not compiled_files():
        return []
    try:
        built = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return list(COMPILED)
    return [name for name in COMPILED if built.get(name) != _digest(name)]


def compiled_files() -> list[Path]:
    return sorted(CORE.glob("*.so"))


def build() -> None:
    from mypyc.build import mypycify  # noqa: PLC0415 - a build-time dependency only
    from setuptools import setup  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    paths = [str((CORE / name).relative_to(ROOT)) for name in COMPILED]
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as temp:
        os.chdir(ROOT)  # mypyc reads the project's mypy settings from here
        try:
            extensions = mypycify(
                paths, opt_level="3", separate=[(paths, GROUP)], target_dir=f"{temp}/c"
            )
            os.chdir(temp)  # so setuptools sees no project configuration and writes nothing here
            setup(
                name="engine-core-native",
                ext_modules=extensions,
                script_args=["-q", "build_ext", "--build-lib", "lib", "--build-temp", "obj"],
            )
        finally:
            os.chdir(here)
        for built in (Path(temp) / "lib" / "engine_service" / "core").glob("*.so"):
            shutil.copy2(built, CORE / built.name)
    STAMP.write_text(json.dumps({name: _digest(name) for name in COMPILED}, indent=1))


def main(argv: list[str]) -> None:
    for path in compiled_files():
        path.unlink()
    STAMP.unlink(missing_ok=True)
    if "--clean" not in argv:
        build()
        print("\n".join(str(path.relative_to(ROOT)) for path in compiled_files()))


if __name__ == "__main__":
    main(sys.argv[1:])
