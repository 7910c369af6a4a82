"""The import layers (ARCHITECTURE.md): cli -> services -> remote/layout/pm2 -> base.

Read from the source with `ast`: every import a module runs (at the top or inside a function;
`if TYPE_CHECKING:` blocks are left out, they never run). A module may import its own layer or
a lower one, never a higher one; no two modules, and no two units (a base module, or a
top-level package or module otherwise), import each other, directly or around a loop.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2] / "cookcam_ops"
Graph = dict[str, set[str]]

# Lowest first. A module belongs to the longest prefix that names it; unnamed: "services".
BASE = (
    "errors",
    "limits",
    "config",
    "configpath",
    "yamlfile",
    "masking",
    "common",
    "report",
    "resources",
    "hostside",
    "canary.settings",
    "deploy.refs",
    "checklist.semver_range",
    "envfile.dotenv_parser",
    "remote.protocol",
    "remote.composite",
    "pm2.procs",
)
LAYERS: dict[str, tuple[str, ...]] = {
    "base": BASE,
    "remote/layout": ("remote", "layout", "pm2"),
    "services": (),
    "cli": ("cli", "__main__"),
}
ORDER = list(LAYERS)


def layer_of(module: str) -> str:
    name = module.removeprefix("cookcam_ops.")
    best, length = "services", 0
    for layer, prefixes in LAYERS.items():
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > length:
                best, length = layer, len(p)
    return best


def unit_of(module: str) -> str:
    """What a cycle is looked for between: a base module itself, else its top-level part."""
    if layer_of(module) == "base":
        return module
    return ".".join(module.split(".")[:2])


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, known: set[str]) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.add(full if full in known else child.module)
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            visit(child)

    visit(tree)
    return {m for m in found if m.split(".")[0] == "cookcam_ops"}


def import_graph() -> Graph:
    paths = [p for p in ROOT.rglob("*.py") if "api" not in p.relative_to(ROOT).parts[:2]]
    known = {_module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = _module_name(path)
        graph[name] = {
            m for m in _imports(ast.parse(path.read_text(encoding="utf-8")), known) if m != name
        }
    return graph


def upward(graph: Graph) -> list[str]:
    """Imports of a higher layer, as 'importer (layer) -> imported (layer)'."""
    return sorted(
        f"{m} ({layer_of(m)}) -> {d} ({layer_of(d)})"
        for m, deps in graph.items()
        for d in deps
        if ORDER.index(layer_of(d)) > ORDER.index(layer_of(m))
    )


def cycle(graph: Graph) -> list[str] | None:
    """One import cycle, or None."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as e:
        return list(e.args[1])
    return None


def units(graph: Graph) -> Graph:
    out: Graph = {}
    for m, deps in graph.items():
        out.setdefault(unit_of(m), set()).update(
            unit_of(d) for d in deps if unit_of(d) != unit_of(m)
        )
    return out


@pytest.fixture(scope="module")
def graph() -> Graph:
    found = import_graph()
    assert len(found) > 100 and "cookcam_ops.deploy.engine" in found
    assert "cookcam_ops.deploy.steps" in found["cookcam_ops.deploy.engine"]
    return found


def test_no_module_imports_a_higher_layer(graph: Graph) -> None:
    assert upward(graph) == []


def test_no_import_cycle_between_modules(graph: Graph) -> None:
    assert cycle(graph) is None


def test_no_import_cycle_between_packages(graph: Graph) -> None:
    assert cycle(units(graph)) is None


def test_the_checks_catch_what_they_are_for() -> None:
    """An upward import and cycles, in a made-up graph, are found."""
    made_up: Graph = {
        "cookcam_ops.remote.fanout": {"cookcam_ops.deploy.engine"},
        "cookcam_ops.deploy.engine": {"cookcam_ops.status"},
        "cookcam_ops.status": {"cookcam_ops.deploy.plan"},
        "cookcam_ops.deploy.plan": set(),
        "cookcam_ops.errors": {"cookcam_ops.errors"},
    }
    assert upward(made_up) == [
        "cookcam_ops.remote.fanout (remote/layout) -> cookcam_ops.deploy.engine (services)"
    ]
    assert cycle(made_up) == ["cookcam_ops.errors", "cookcam_ops.errors"]
    assert cycle({"a": {"b"}, "b": {"a"}}) is not None
    loop = cycle(units(made_up))
    assert loop is not None and set(loop) >= {"cookcam_ops.deploy", "cookcam_ops.status"}
