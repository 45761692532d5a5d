"""The package's import graph: no cycles, and the layers import downward only.

The graph is read from the source with ``ast`` (nothing is imported): an edge ``a -> b`` for
every ``import b`` / ``from b import ...`` in module ``a``, at top level or inside a function
(a lazy import is still a dependency), except under ``if TYPE_CHECKING:`` (annotations only).
``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "convsym"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Import nodes of ``tree``, skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            stack.append(child)


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in mods else source for a in node.names]
            for target in targets:
                if target in mods and target != mod:
                    graph[mod].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_is_read():
    graph = import_graph()
    assert "convsym.exact.poly" in graph["convsym.exact.modp"]
    assert "convsym.proof.verdict" in graph["convsym.render.latex"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


# Layers, bottom to top. A module may import its own layer and the ones below, never above.
LAYERS = [
    ("convsym.errors", "convsym.dtypes", "convsym.spec", "convsym.lazy_sympy"),
    ("convsym.shapes", "convsym.reference"),
    ("convsym.exact", "convsym.symbolic"),
    ("convsym.transforms", "convsym.cost"),
    ("convsym.proof",),
    ("convsym.render",),
    ("convsym.run",),
    ("convsym.torch", "convsym.torch_optimize", "convsym.onnx", "convsym.cli", "convsym.__main__"),
]


def _layer(mod: str) -> int | None:
    for level, prefixes in enumerate(LAYERS):
        if any(mod == p or mod.startswith(p + ".") for p in prefixes):
            return level
    return None


def test_layers_import_downward():
    bad = []
    for mod, targets in import_graph().items():
        level = _layer(mod)
        if level is None:
            continue
        for target in targets:
            other = _layer(target)
            if other is not None and other > level:
                bad.append(f"{mod} -> {target}")
    assert bad == []


@pytest.mark.parametrize("mod, forbidden", [
    ("convsym.reference", ("convsym.exact", "convsym.symbolic", "convsym.proof", "convsym.render", "convsym.cost")),
    ("convsym.exact", ("convsym.transforms", "convsym.render", "convsym.proof")),
    ("convsym.symbolic", ("convsym.render", "convsym.proof", "convsym.transforms")),
])
def test_separations(mod, forbidden):
    """The reference stays independent; maths never imports printers or the NumPy transforms."""
    bad = [f"{m} -> {t}" for m, ts in import_graph().items() if m == mod or m.startswith(mod + ".")
           for t in ts if any(t == f or t.startswith(f + ".") for f in forbidden)]
    assert bad == []
