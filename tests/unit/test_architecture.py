"""Dependencies point one way (README, Layers): the import graph between the apps, read from the
source with `ast` (imports inside functions count), has no cycle and every edge points down the
declared layers; `oci/` imports only the standard library and an allow-list. Pure: no Django, no
services. The checker itself is tested on small trees it must refuse."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Lowest first: a package may import only those before it (README, Layers).
LAYERS = ("oci", "wave_site", "accounts", "registries", "limits", "builds", "mirrors", "metrics", "containers")
# wave_site's composition root: it wires every app together, and nothing imports it.
TOP = ("wave_site.urls", "wave_site.asgi", "wave_site.wsgi", "wave_site.settings")
# What oci/ may import besides the standard library: the HTTP clients it talks to registries with.
OCI_ALLOWED = {"httpx", "httpcore", "aiohttp"}

Edges = dict[tuple[str, str], list[str]]


def _modules(root: Path, package: str):
    for path in sorted((root / package).rglob("*.py")):
        if "migrations" in path.parts:  # history: their imports are frozen with them
            continue
        parts = path.relative_to(root).with_suffix("").parts
        yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(line, absolute module name) of every import in the file, at any depth (relative ones stay
    inside their own package, and are left out)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _node(module: str, packages: tuple[str, ...], top: tuple[str, ...]) -> str | None:
    if any(module == t or module.startswith(t + ".") for t in top):
        return None
    head = module.split(".")[0]
    return head if head in packages else None


def import_edges(root: Path, packages: tuple[str, ...], top: tuple[str, ...] = ()) -> Edges:
    """Package-to-package imports, each with the `path:line` that makes it."""
    edges: Edges = defaultdict(list)
    for package in packages:
        for path, module in _modules(root, package):
            source = _node(module, packages, top)
            if source is None:
                continue
            for line, name in _imports(path):
                target = _node(name, packages, top)
                if target is not None and target != source:
                    edges[source, target].append(f"{path.relative_to(root)}:{line} imports {name}")
    return edges


def find_cycle(edges: Edges) -> list[str] | None:
    """A cycle as the packages along it, first one repeated last; None without one."""
    graph = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def describe_cycle(cycle: list[str], edges: Edges) -> str:
    return "\n".join(f"{a} -> {b}: {edges[a, b][0]}" for a, b in zip(cycle, cycle[1:]))


def upward_edges(edges: Edges, layers: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{a} -> {b}: {where[0]}" for (a, b), where in edges.items() if layers.index(b) > layers.index(a)
    )


def foreign_imports(root: Path, package: str, allowed: set[str]) -> list[str]:
    """Imports of `package` that are neither the standard library, itself, nor allowed."""
    return [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path, _ in _modules(root, package)
        for line, name in _imports(path)
        if (head := name.split(".")[0]) not in sys.stdlib_module_names and head != package and head not in allowed
    ]


def test_no_cycle_between_the_apps():
    edges = import_edges(ROOT, LAYERS, TOP)
    cycle = find_cycle(edges)
    assert cycle is None, "an import cycle between apps:\n" + describe_cycle(cycle, edges)


def test_every_import_points_down_the_layers():
    assert upward_edges(import_edges(ROOT, LAYERS, TOP), LAYERS) == []


def test_oci_imports_only_the_standard_library_and_its_http_clients():
    assert foreign_imports(ROOT, "oci", OCI_ALLOWED) == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_checker_names_a_cycle_made_inside_a_function(tmp_path):
    root = _tree(tmp_path, {
        "low/__init__.py": "",
        "low/a.py": "import json\n\ndef late():\n    from high.b import thing\n",
        "high/__init__.py": "",
        "high/b.py": "from low import a\nthing = 1\n",
        "high/migrations/0001.py": "import low.a\n",
    })
    edges = import_edges(root, ("low", "high"))
    assert sorted(edges) == [("high", "low"), ("low", "high")]
    assert describe_cycle(find_cycle(edges), edges).splitlines() == [
        "high -> low: high/b.py:1 imports low",
        "low -> high: low/a.py:4 imports high.b",
    ]
    assert upward_edges(edges, ("low", "high")) == ["low -> high: low/a.py:4 imports high.b"]


def test_the_checker_passes_a_tree_without_cycle_and_skips_the_top(tmp_path):
    root = _tree(tmp_path, {
        "low/__init__.py": "",
        "low/urls.py": "import high\n",  # a composition root may import anything
        "high/__init__.py": "import low\n",
    })
    edges = import_edges(root, ("low", "high"), top=("low.urls",))
    assert list(edges) == [("high", "low")]
    assert find_cycle(edges) is None
    assert upward_edges(edges, ("low", "high")) == []


def test_the_allow_list_names_a_django_import(tmp_path):
    root = _tree(tmp_path, {
        "lib/__init__.py": "import json\nimport httpx\nfrom . import own\nimport lib.own\n",
        "lib/own.py": "def f():\n    from django.conf import settings\n",
    })
    assert foreign_imports(root, "lib", {"httpx"}) == ["lib/own.py:2 imports django.conf"]
