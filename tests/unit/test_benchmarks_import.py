"""Every benchmark still imports: they run by hand against a stack, so a moved module would otherwise
break them silently (it did once: the support code moved to tests/support)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(path.stem for path in (Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py")
                    if path.stem != "__init__")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_benchmark_imports(name):
    importlib.import_module(f"benchmarks.{name}")  # raises on a module that moved or a name it lost
