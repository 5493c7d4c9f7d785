"""Architecture checks beside the import contracts ([tool.importlinter] in pyproject.toml).

`make imports` checks the contracts on the real tree. These tests prove that no module takes part in
an import cycle, that the contracts do fail when a forbidden import is planted, and that no module
outgrows the size limit.
"""

import itertools
import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Iterator, Mapping, Sequence, Set
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
# The root packages of the import graph and where each one's source lives.
PACKAGES: Mapping[str, Path] = {
    "exchange": ROOT / "layers" / "exchange" / "python" / "exchange",
    "engine_service": ROOT / "engine_service",
    "lambdas": ROOT / "lambdas",
    "local": ROOT / "local",
    "stacks": ROOT / "stacks",
}

MAX_LINES = 400
# Paths relative to the repository root; each exemption is a deliberate decision.
MAX_LINES_EXEMPT = frozenset({"engine_service/core/matcher.py"})
# What the size limit covers: every Python file outside tests/ (app.py is the CDK entry point).
SIZE_CHECKED = ("layers", "lambdas", "engine_service", "local", "stacks", "client", "bench")
SIZE_CHECKED_FILES = ("app.py",)
NOT_SOURCE = frozenset({"__pycache__", "tests", "build", "node_modules", "cdk.out"})

Graph = Mapping[str, Set[str]]


def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        *PACKAGES,
        exclude_type_checking_imports=False,
        cache_dir=None,  # no cache dir in the repo
    )


def strongly_connected_components(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative so that a long import chain cannot hit the recursion limit."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = lowlink[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def cycle_through(graph: Graph, component: Sequence[str]) -> list[str]:
    """The shortest cycle from the component's first module back to itself, within the component."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph[node] & members):
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a component has one


def describe_cycle(graph: grimp.ImportGraph, cycle: Sequence[str]) -> str:
    lines = []
    for importer, imported in itertools.pairwise(cycle):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = "; ".join(f"l.{d['line_number']}: {d['line_contents']}" for d in details)
        lines.append(f"    {importer} -> {imported}  ({where})")
    return "\n".join(lines)


def test_no_module_is_part_of_an_import_cycle() -> None:
    """Module-level cycles, counting imports inside functions and under TYPE_CHECKING."""
    graph = import_graph()
    assert {module.split(".")[0] for module in graph.modules} == set(PACKAGES)
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    cycles = [
        cycle_through(edges, component)
        for component in strongly_connected_components(edges)
        if len(component) > 1 or component[0] in edges[component[0]]
    ]
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(
        f"  {' -> '.join(cycle)}\n{describe_cycle(graph, cycle)}" for cycle in cycles
    )


def test_cycle_finder_finds_each_cycle_and_its_path() -> None:
    """The helpers above on a known graph: a three-module cycle, a self-import, an acyclic leaf."""
    edges: dict[str, set[str]] = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    components = strongly_connected_components(edges)
    assert sorted(components) == [["a", "b", "c"], ["d"], ["e"]]
    assert cycle_through(edges, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert cycle_through(edges, ["e"]) == ["e", "e"]


# Each planted module breaks one contract, and the report must name what was planted:
# path in the copy: (source, contract id, a line the report must contain).
PLANTED: Mapping[str, tuple[str, str, str]] = {
    "engine_service/core/_planted_sdk.py": (
        "import boto3\n",
        "engine-core-pure",
        "engine_service.core._planted_sdk -> boto3 (l.1)",
    ),
    "exchange/domain/_planted_io.py": (
        "import socket\n",  # the standard library counts, not only third-party packages
        "domain-pure",
        "exchange.domain._planted_io -> socket (l.1)",
    ),
    "exchange/domain/_planted_layer.py": (
        "from exchange.ledger import errors\n",
        "exchange-layers",
        "exchange.domain._planted_layer -> exchange.ledger.errors (l.1)",
    ),
    "exchange/_planted_undeclared/__init__.py": (
        "",  # a subpackage with no layer: the layers contract is exhaustive
        "exchange-layers",
        "exchange._planted_undeclared",
    ),
    "stacks/_planted_handler.py": (
        "from lambdas.orders import handler\n",
        "stacks-boundaries",
        "stacks._planted_handler -> lambdas.orders.handler (l.1)",
    ),
    "engine_service/core/_planted_cycle_a.py": (
        "from engine_service.core import _planted_cycle_b\n",
        "acyclic-siblings",
        "No cycles are allowed in engine_service.core.",
    ),
    "engine_service/core/_planted_cycle_b.py": (
        "from engine_service.core import _planted_cycle_a\n",
        "acyclic-siblings",
        "No cycles are allowed in engine_service.core.",
    ),
}


# `lint-imports`, run by this interpreter: the console script's own code.
LINT_IMPORTS = (
    "import sys; from importlinter.cli import lint_imports_command as lint; sys.exit(lint())"
)


def copy_sources(destination: Path) -> None:
    """The root packages' Python files, laid out as top-level packages (exchange included)."""

    def not_python(folder: str, names: list[str]) -> set[str]:
        return {
            name
            for name in names
            if name in NOT_SOURCE or (not name.endswith(".py") and not Path(folder, name).is_dir())
        }

    for name, source in PACKAGES.items():
        shutil.copytree(source, destination / name, ignore=not_python)


def test_contracts_fail_on_planted_imports(tmp_path: Path) -> None:
    """The linter, on a copy with forbidden imports planted, reports each one and fails."""
    copy_sources(tmp_path)
    for relative, (source, _, _) in PLANTED.items():
        planted = tmp_path / relative
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text(source, encoding="utf-8")
    contracts = sorted({contract for _, contract, _ in PLANTED.values()})
    # The working directory (the copy) goes first on sys.path, ahead of the editable exchange.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LINT_IMPORTS,
            str(PYPROJECT),
            "--no-cache",
            "--no-logo",
            *(option for contract in contracts for option in ("--contract", contract)),
        ],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert f"Contracts: 0 kept, {len(contracts)} broken." in report, report
    missing = [expected for _, _, expected in PLANTED.values() if expected not in report]
    assert not missing, f"not reported: {missing}\n{report}"


def python_sources() -> Iterator[Path]:
    for file_name in SIZE_CHECKED_FILES:
        yield ROOT / file_name
    for folder in SIZE_CHECKED:
        for file in sorted((ROOT / folder).rglob("*.py")):
            if not NOT_SOURCE & set(file.relative_to(ROOT).parts):
                yield file


def test_no_source_file_is_over_the_line_limit() -> None:
    sources = list(python_sources())
    assert len(sources) > 100, "the scan found too few files: is ROOT right?"
    counts = {
        file.relative_to(ROOT).as_posix(): len(file.read_text(encoding="utf-8").splitlines())
        for file in sources
    }
    oversized = {
        path: lines
        for path, lines in counts.items()
        if lines > MAX_LINES and path not in MAX_LINES_EXEMPT
    }
    assert not oversized, f"over {MAX_LINES} lines (split them):\n" + "\n".join(
        f"  {path}: {lines}" for path, lines in sorted(oversized.items())
    )
    assert set(MAX_LINES_EXEMPT) <= counts.keys(), "an exemption names a file that is gone"
