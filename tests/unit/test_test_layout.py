"""The suite's own layout: helpers live in tests/support/ and shared fixtures in a conftest, so no module of
the suite imports a test module or a conftest (a helper imported from a test module is support code in the
wrong place, and the fixtures imported with it run where nobody looks for them)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_modules(source: str, path: Path) -> list[str]:
    """Every module and name `source` imports, relative imports resolved as if it were the file at `path`."""
    package = path.relative_to(TESTS.parent).parent.parts
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def test_modules(names: list[str]) -> list[str]:
    return [name for name in names if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith(("test_", "conftest"))]


test_modules.__test__ = False  # a helper, not a test


def test_no_module_of_the_suite_imports_a_test_module_or_a_conftest():
    offenders = [
        f"{path.relative_to(TESTS.parent)} imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for name in test_modules(imported_modules(path.read_text(), path))
    ]
    assert offenders == []


def test_the_check_sees_absolute_relative_and_nested_imports():
    source = (
        "from tests.builds.test_build_jobs import b64\n"
        "from .conftest import trust\n"
        "from tests.support.helpers import run\n"
        "def f():\n    from ..conftest import wait_until\n"
    )
    found = test_modules(imported_modules(source, TESTS / "builds" / "test_sample.py"))
    assert found == ["tests.builds.test_build_jobs", "tests.builds.conftest", "tests.conftest"]
