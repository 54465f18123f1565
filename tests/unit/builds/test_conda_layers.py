"""Conda layers: one per package, deterministic, and merged past the layer budget."""

from __future__ import annotations

import asyncio
import tarfile

import pytest

from builds.conda import layers as conda_layers
from builds.conda.plan import CondaPlan
from builds.conda.solve import install, solve


@pytest.fixture
def installed(conda_channel, tmp_path):
    def make(specs: list[str], where: str):
        plan = CondaPlan((conda_channel,), tuple(specs), "unused", "linux/amd64")

        async def go():
            records = await solve(plan, "https://conda.anaconda.org/")
            return await install(records, tmp_path / where, plan.subdir, tmp_path / "cache")

        return asyncio.run(go())

    return make


def names_in(layer) -> list[str]:
    with tarfile.open(layer.path, "r:gz") as tar:
        return [m.name for m in tar.getmembers() if m.isfile()]


def packed(prefix, tmp_path, where: str):
    (tmp_path / where).mkdir()
    return conda_layers.package_layers(prefix, tmp_path / where)


def test_each_package_gets_its_own_layer_with_its_files(installed, tmp_path):
    packages, metadata = packed(installed(["wavetest-hello", "wavetest-extra"], "a"), tmp_path, "out")
    by_name = {p.names: names_in(p.layer) for p in packages}
    assert by_name == {
        ("wavetest-extra",): ["opt/conda/share/wavetest-extra/readme.txt"],
        ("wavetest-hello",): ["opt/conda/bin/wavetest-hello"],
        ("wavetest-lib",): ["opt/conda/share/wavetest/prefix.txt"],
    }
    assert all(name.startswith("opt/conda/conda-meta/") for name in names_in(metadata))


def test_the_same_package_gives_the_same_layer_in_another_environment(installed, tmp_path):
    first, _ = packed(installed(["wavetest-hello"], "a"), tmp_path, "out-a")
    second, _ = packed(installed(["wavetest-lib", "wavetest-extra"], "b"), tmp_path, "out-b")
    lib = lambda layers: next(p.layer.gzip_digest for p in layers if p.names == ("wavetest-lib",))  # noqa: E731
    assert lib(first) == lib(second)


def test_past_the_budget_the_smallest_packages_share_a_layer(installed, monkeypatch, tmp_path):
    monkeypatch.setattr(conda_layers, "LAYER_BUDGET", 2)
    packages, _ = packed(installed(["wavetest-hello", "wavetest-extra"], "c"), tmp_path, "out")
    assert len(packages) == 2
    merged = next(p for p in packages if len(p.names) > 1)
    assert len(merged.names) == 2 and len(names_in(merged.layer)) == 2
