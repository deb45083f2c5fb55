"""The layout is the architecture: the import graph, read from the source, has no cycle and never climbs a layer.

Layers, lowest first (docs/architecture.md): errors < data < environments < judges < rewards < runs < reporting
< evaluation < monitoring < nova < integrations < the entry points (and ``rlaif`` itself: its ``open_reward`` is the
public API). A module may import its own layer or a lower one; no library imports an entry point; modules stay under
400 lines and entry points under 120. Lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rlaif

ROOT = Path(rlaif.__file__).parent
ENTRY_POINTS = {
    "rlaif.train",
    "rlaif.evaluate",
    "rlaif.judge_eval",
    "rlaif.monitor",
    "rlaif.step_timing",
    "rlaif.report",
    "rlaif.serve",
}
LAYERS = [
    "errors",
    "data",
    "environments",
    "judges",
    "rewards",
    "runs",
    "reporting",
    "evaluation",
    "monitoring",
    "nova",
    "integrations",
]
MAX_MODULE_LINES = 400
MAX_ENTRY_POINT_LINES = 120


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """The rlaif modules ``name`` imports, anywhere in its source (``from pkg import module`` resolved)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("rlaif.") and target != name:
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> int:
    if name in ENTRY_POINTS or name == "rlaif":  # the package's public API (rlaif.open_reward) is on top
        return len(LAYERS)
    top = name.split(".")[1] if "." in name else ""
    return LAYERS.index(top) if top in LAYERS else -1  # rlaif.conf: imports nothing


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path, or None (a depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_graph_is_read_from_the_source() -> None:
    # The checks below mean something only if the reader sees imports, lazy ones included.
    assert "rlaif.runs.judge_and_reward" in GRAPH["rlaif.train"]
    assert "rlaif.data.records" in GRAPH["rlaif.data.sources"]
    assert "rlaif.runs.judge_and_reward" in GRAPH["rlaif.monitoring.monitor"]  # imported inside a function
    assert len(MODULES) > 60


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle() -> None:
    assert find_cycle(GRAPH) is None


def test_no_import_climbs_a_layer() -> None:
    climbs = [
        f"{name} ({layer(name)}) imports {target} ({layer(target)})"
        for name, targets in GRAPH.items()
        for target in targets
        if layer(target) > layer(name)
    ]
    assert climbs == []


def test_every_module_has_a_layer() -> None:
    assert [name for name in MODULES if layer(name) < 0 and name != "rlaif.conf"] == []


def test_no_library_imports_an_entry_point() -> None:
    assert [(n, t) for n, targets in GRAPH.items() for t in targets if t in ENTRY_POINTS] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name: str) -> None:
    limit = MAX_ENTRY_POINT_LINES if name in ENTRY_POINTS else MAX_MODULE_LINES
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{MODULES[name]}: {lines} lines (limit {limit})"
