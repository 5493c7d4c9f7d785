"""Build the compiled engine core: ``_ccore.pyx`` (with ``_ccore_support.h``) to C with Cython,
then to ``_ccore*.so`` next to its sources.

Run it by path, from anywhere: ``python engine_service/core/build.py`` (``make build-engine``).
It builds when the module is missing, its sources changed, or the recipe did (this file, the
Cython version, the interpreter); otherwise it says the build is up to date. ``--force`` builds
anyway, ``--clean`` deletes the compiled module (back to the pure-Python core). The ``.so`` and
its stamp are git-ignored; the generated C is written to a temporary folder, never here.

``stale_sources()`` names the sources changed since the build; ``engine_service.core.cores``
refuses to load a stale module, so stale native code never runs.
"""

import sys

if __name__ == "__main__" and not sys.flags.safe_path:
    # Run by path, this folder is sys.path[0], and its operator.py would shadow the standard
    # library's: drop it before anything else is imported.
    del sys.path[0]

import hashlib
import json
import os
import platform
import shutil
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

CORE = Path(__file__).resolve().parent
ROOT = CORE.parent.parent
MODULE = "engine_service.core._ccore"
# The sources compiled into the module: the stamp records their hashes.
COMPILED = ["_ccore.pyx", "_ccore_support.h"]
STAMP = CORE / "_native.stamp.json"
# -O3 whatever the interpreter was built with. The image runs on c5.2xlarge (Intel Xeon), but the
# build host may be another x86-64, so no -march=native: x86-64-v2 (SSE4.2, POPCNT) runs on every
# x86-64 EC2 instance type.
X86_64 = platform.machine() in {"x86_64", "AMD64"}
CFLAGS = ["-O3", "-g0", *(["-march=x86-64-v2"] if X86_64 else [])]


def _digest(name: str) -> str | None:
    try:
        return hashlib.sha256((CORE / name).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _recorded() -> dict[str, str]:
    try:
        built = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return built if isinstance(built, dict) else {}


def compiled_files() -> list[Path]:
    """The compiled modules in this folder (any ``.so``, so an old build's are found too)."""
    return sorted(CORE.glob("*.so"))


def stale_sources() -> list[str]:
    """Sources changed since the compiled module was built (empty when none is built)."""
    if not compiled_files():
        return []
    built = _recorded()
    return [name for name in COMPILED if built.get(name) != _digest(name)]


def _recipe() -> str:
    """What else the module depends on: this file, the Cython version and the interpreter ABI."""
    try:
        cython = metadata.version("Cython")
    except metadata.PackageNotFoundError:
        cython = "missing"
    text = f"{cython} {sysconfig.get_config_var('EXT_SUFFIX')} {' '.join(CFLAGS)}"
    return hashlib.sha256(text.encode() + Path(__file__).read_bytes()).hexdigest()


def outdated() -> str | None:
    """Why the compiled module must be (re)built, or None when it is up to date."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    if not (CORE / f"_ccore{suffix}").exists():
        return f"_ccore{suffix} is not built"
    stale = stale_sources()
    if stale:
        return f"{', '.join(stale)} changed since it was built"
    if _recorded().get("recipe") != _recipe():
        return "its build recipe (build.py, Cython or Python) changed"
    return None


def build() -> Path:
    """Compile ``_ccore.pyx`` into ``_ccore*.so`` here and record its sources' hashes."""
    missing = [name for name in COMPILED if _digest(name) is None]
    if missing:
        raise SystemExit(f"build.py: {', '.join(missing)} not found in {CORE}")
    try:
        from Cython.Build import cythonize  # noqa: PLC0415 - a build-time dependency only
        from setuptools import Extension, setup  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415
    except ImportError as exc:
        raise SystemExit(
            f"build.py: {exc.name} is not installed: `make venv` installs Cython and setuptools "
            "(requirements-dev.txt)"
        ) from exc
    for path in compiled_files():
        path.unlink()  # a new inode: a process that loaded the old module keeps it intact
    STAMP.unlink(missing_ok=True)
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as temp:
        extension = Extension(
            MODULE,
            [str((CORE / COMPILED[0]).relative_to(ROOT))],
            include_dirs=[str(CORE)],  # for _ccore_support.h, since the C is generated elsewhere
            extra_compile_args=CFLAGS,
        )
        try:
            os.chdir(ROOT)  # the source's path is relative to here: its C goes under build_dir
            (compiled,) = cythonize(  # type: ignore[no-untyped-call,unused-ignore]
                [extension],
                build_dir=f"{temp}/c",
                compiler_directives={"language_level": 3},
                force=True,
                quiet=True,
            )
            os.chdir(temp)  # so setuptools sees no project configuration and writes nothing here
            setup(
                name="engine-core-native",
                ext_modules=[compiled],
                script_args=["-q", "build_ext", "--build-lib", "lib", "--build-temp", "obj"],
            )
        finally:
            os.chdir(here)
        (built,) = (Path(temp) / "lib" / "engine_service" / "core").glob("_ccore*.so")
        target = CORE / built.name
        shutil.copy2(built, target)
    recorded = {name: _digest(name) for name in COMPILED}
    STAMP.write_text(json.dumps({**recorded, "recipe": _recipe()}, indent=1))
    return target


def main(argv: list[str]) -> None:
    if "--clean" in argv:
        for path in compiled_files():
            path.unlink()
        STAMP.unlink(missing_ok=True)
        print("build.py: removed the compiled engine core (the pure-Python core runs)")
        return
    reason = "--force" if "--force" in argv else outdated()
    if reason is None:
        print("build.py: the compiled engine core is up to date")
        return
    print(f"build.py: compiling the engine core with Cython ({reason})", flush=True)
    target = build()
    print(f"build.py: built {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
