"""A conda package's layer is packed as a stream: a 1 GiB package costs the packer far less memory
than its size. The packing runs in a subprocess of its own, whose peak RSS (VmHWM) is read before
and after; the package is installed by rattler from an archive of the test's own, and its one file
then replaced by 1 GiB of random (incompressible) data, which a full conda build would take minutes
to compress into a package and unpack again."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from django.conf import settings

from tests.support.conda_channel import big_installed_prefix

GIB, MIB = 1 << 30, 1 << 20
BUDGET = 128 * MIB  # the RSS growth allowed: far below the package's size

PACK = """
import json, sys
from pathlib import Path
from builds.conda.layers import package_layers

def peak():
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))

before = peak()
packages, metadata = package_layers(Path(sys.argv[1]), Path(sys.argv[2]))
layer = packages[0].layer
print(json.dumps({"growth": peak() - before, "path": str(layer.path), "digest": layer.gzip_digest, "size": layer.size}))
"""


@pytest.fixture
def big_prefix(tmp_path):
    prefix = big_installed_prefix(tmp_path, GIB // MIB)
    try:
        yield prefix
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)  # 2 GiB: not left for pytest's kept temporary folders


@pytest.mark.slow
def test_packing_a_1_gib_package_keeps_memory_far_below_its_size(big_prefix, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", PACK, str(big_prefix), str(out)], cwd=settings.BASE_DIR,
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["growth"] < BUDGET, f"packing grew the RSS by {result['growth'] // MIB} MiB"
    assert result["size"] > GIB  # random data does not compress: the whole package went through
    with open(result["path"], "rb") as layer:
        assert "sha256:" + hashlib.file_digest(layer, "sha256").hexdigest() == result["digest"]
