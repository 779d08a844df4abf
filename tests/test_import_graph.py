"""The library's import graph between its packages: no circle spans two packages.

Nodes are the packages of `asset_platform` (`asset_platform.ml`, `.registry`, ...)
and its top-level modules; an arrow A → B means some module of A imports B, at any
depth (lazy imports inside functions count: they are the usual way a circle hides).
Run as a script to print the numbers: arrows, strongly connected components, floors
(layers of the longest-path layering once the back-arrows are removed) and
back-arrows (a small set of arrows whose removal leaves no circle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "asset_platform"
ROOT = "asset_platform"


def _module_name(path: Path, library: Path = LIBRARY) -> str:
    parts = list(path.relative_to(library.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: Path, library: Path = LIBRARY) -> Iterable[str]:
    """Every absolute module name `path` imports, relative imports resolved, `from x import y` as `x.y` too."""
    module = _module_name(path, library)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            # `from asset_platform import lifecycle` imports the subpackage itself.
            yield from (f"{target}.{alias.name}" for alias in node.names if alias.name != "*")


def node_of(module: str, nodes: set[str]) -> str | None:
    """The graph node (package or top-level module of the library) that holds `module`, if any."""
    parts = module.split(".")
    if parts[0] != ROOT:
        return None
    for length in range(min(len(parts), 2), 0, -1):
        candidate = ".".join(parts[:length])
        if candidate in nodes:
            return candidate
    return None


def import_graph(library: Path = LIBRARY) -> dict[str, set[str]]:
    """Package-level arrows of the library: node → the other nodes it imports."""
    files = sorted(library.rglob("*.py"))
    nodes = {ROOT} | {f"{ROOT}.{p.stem if p.is_file() else p.name}" for p in library.iterdir() if _is_node(p)}
    graph: dict[str, set[str]] = {node: set() for node in nodes}
    for path in files:
        source = node_of(_module_name(path, library), nodes)
        for imported in _imported_modules(path, library):
            target = node_of(imported, nodes)
            # `from asset_platform import x` names the root only when x is no node of its own.
            if target and target != source and not (target == ROOT and imported == ROOT):
                graph[source].add(target)
    return graph


def _is_node(path: Path) -> bool:
    if path.is_dir():
        return (path / "__init__.py").exists()
    return path.suffix == ".py" and path.name != "__init__.py"


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components, each a set of nodes."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def back_arrows(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """A small set of arrows that closes every circle (Eades, Lin and Smyth's greedy order)."""
    remaining = {node: set(targets) for node, targets in graph.items()}
    incoming = {node: {s for s, ts in graph.items() if node in ts} for node in graph}
    head: list[str] = []
    tail: list[str] = []

    def remove(node: str) -> None:
        for target in remaining.pop(node):
            incoming[target].discard(node)
        for source in incoming.pop(node):
            remaining[source].discard(node)

    while remaining:
        changed = True
        while changed:
            changed = False
            for node in sorted(remaining):
                if not remaining[node]:
                    tail.insert(0, node)
                    remove(node)
                    changed = True
                elif not incoming[node]:
                    head.append(node)
                    remove(node)
                    changed = True
        if remaining:
            node = max(sorted(remaining), key=lambda n: len(remaining[n]) - len(incoming[n]))
            head.append(node)
            remove(node)
    position = {node: i for i, node in enumerate(head + tail)}
    return {(s, t) for s, ts in graph.items() for t in ts if position[t] < position[s]}


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each node's floor: 0 imports nothing of the library, n imports something on floor n-1 (back-arrows left out)."""
    skipped = back_arrows(graph)
    floor: dict[str, int] = {}

    def height(node: str) -> int:
        if node not in floor:
            below = [height(t) for t in graph[node] if (node, t) not in skipped]
            floor[node] = 1 + max(below, default=-1)
        return floor[node]

    for node in graph:
        height(node)
    return floor


def summary(graph: dict[str, set[str]]) -> dict:
    circles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    return {
        "nodes": len(graph),
        "arrows": sum(len(targets) for targets in graph.values()),
        "floors": 1 + max(floors(graph).values()),
        "back_arrows": sorted(back_arrows(graph)),
        "circles": circles,
    }


# Arrows that still close a circle (issue 25); the list may only shrink. The last one, declaration →
# lifecycle, went when the dg component (`asset_platform.project.ModelDeclaration`) moved out of the
# plain declaration.
KNOWN_BACK_ARROWS: set[tuple[str, str]] = set()


def test_no_circle_spans_two_packages_of_the_library():
    graph = import_graph()
    for source, target in KNOWN_BACK_ARROWS:
        graph[source].discard(target)
    circles = summary(graph)["circles"]
    assert circles == [], f"packages that import each other: {circles}"


def test_the_known_back_arrows_still_exist():
    graph = import_graph()
    gone = {(source, target) for source, target in KNOWN_BACK_ARROWS if target not in graph[source]}
    assert gone == set(), f"cut: remove {gone} from KNOWN_BACK_ARROWS"


def test_the_graph_finds_lazy_and_relative_imports(tmp_path):
    library = tmp_path / ROOT
    for package in ("low", "high"):
        (library / package).mkdir(parents=True)
        (library / package / "__init__.py").write_text("")
    (library / "__init__.py").write_text("")
    (library / "top.py").write_text("from asset_platform import high\n")
    (library / "high" / "a.py").write_text("from ..low import thing\n")
    (library / "low" / "b.py").write_text("def f():\n    from asset_platform.high.a import g\n")
    graph = import_graph(library)
    assert graph == {
        ROOT: set(),
        f"{ROOT}.top": {f"{ROOT}.high"},
        f"{ROOT}.high": {f"{ROOT}.low"},
        f"{ROOT}.low": {f"{ROOT}.high"},
    }
    assert summary(graph)["circles"] == [[f"{ROOT}.high", f"{ROOT}.low"]]
    assert len(back_arrows(graph)) == 1


if __name__ == "__main__":
    import json

    result = summary(import_graph())
    result["back_arrows"] = [f"{s} -> {t}" for s, t in result["back_arrows"]]
    print(json.dumps(result, indent=1))
