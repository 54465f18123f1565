"""Every benchmark still imports: they run by hand against a stack, so a moved module would otherwise
break them silently (it did once: the support code moved to tests/support)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

BENCHMARKS = sorted(path.stem for path in (Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py")
                    if path.stem != "__init__")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_benchmark_imports_and_leaves_the_environment_alone(name, monkeypatch):
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings"))
    before = dict(os.environ)
    importlib.import_module(f"benchmarks.{name}")  # raises on a module that moved or a name it lost
    # An import that sets, say, SSL_CERT_FILE changes every later test's httpx clients (it did: CI
    # failed ten fault tests on a CA file that was not there).
    assert dict(os.environ) == before
