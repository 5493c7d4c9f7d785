"""The client is a package of its own (``client/pyproject.toml``): it imports none of the
server's code, and it installs from its folder alone and imports where the server's code is
out of reach."""

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CLIENT = ROOT / "client"
# The repository's own top-level packages: the client may import none of them.
SERVER_PACKAGES = frozenset({"exchange", "lambdas", "local", "engine_service", "stacks", "tests"})
BLOCKER = """
import importlib.abc, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"the client imported the server's {{name}}")
sys.meta_path.insert(0, Blocked())
# The repository's folders leave the path; the venv's site-packages (the dependencies) stay.
sys.path[:] = [p for p in sys.path if not p.startswith({root!r}) or p.startswith(sys.prefix)]
sys.path.insert(0, {target!r})
import importlib, pkgutil, exchange_client
modules = [m.name for m in pkgutil.walk_packages(exchange_client.__path__, "exchange_client.")
           if m.name != "exchange_client.__main__"]  # that one runs the command
for name in modules:
    importlib.import_module(name)
assert exchange_client.__file__.startswith({target!r}), exchange_client.__file__
assert not {blocked!r} & {{m.split(".")[0] for m in sys.modules}}
from exchange_client.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print(len(modules))
"""


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_client_module_imports_the_servers_code() -> None:
    sources = sorted((CLIENT / "exchange_client").rglob("*.py"))
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & SERVER_PACKAGES)
        for path in sources
        if imported_roots(path) & SERVER_PACKAGES
    }
    assert len(sources) > 10
    assert offending == {}


def test_its_declared_dependencies_cover_what_it_imports() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    declared = {
        requirement.split(">")[0].split("=")[0].split("<")[0].strip().replace("-", "_")
        for requirement in [
            *project["dependencies"],
            *project["optional-dependencies"]["ccxt"],
        ]
    }
    third_party = set()
    for path in (CLIENT / "exchange_client").rglob("*.py"):
        third_party |= imported_roots(path) - set(sys.stdlib_module_names) - {"exchange_client"}
    # botocore comes with boto3, its own dependency
    assert third_party - {"botocore"} <= declared, third_party - declared


def test_it_installs_from_its_folder_and_imports_without_the_server(tmp_path: Path) -> None:
    # Given a copy of the client folder alone (a build writes into its source folder)
    source = tmp_path / "client"
    shutil.copytree(
        CLIENT, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    target = tmp_path / "site"
    # When it is installed (offline: no index, the venv's setuptools builds it)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-index", "--no-deps", "--no-build-isolation", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    # Then the installed package has its command, and every module of it (the ccxt class too:
    # ccxt is in this venv) imports, and the command runs, with the repository's code out of
    # reach
    assert (target / "bin" / "exchange").exists()
    assert (target / "exchange_client" / "py.typed").exists()
    script = BLOCKER.format(blocked=set(SERVER_PACKAGES), root=str(ROOT), target=str(target))
    imported = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    *usage, count = imported.stdout.splitlines()
    assert int(count) >= 15
    assert "keys" in "\n".join(usage)
