"""The SIF pipeline's memory does not grow with the image: a 256 MiB layer is converted and pushed
by a process whose peak RSS stays far below the image's size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest
from django.conf import settings

from tests.support.helpers import registry_auth, run
from tests.support.servers import server_env

pytestmark = pytest.mark.slow

SIZE = 256 << 20
MEASURE = """
import asyncio, json, resource, sys
from pathlib import Path
import django
django.setup()
from builds.sif import push_sif, sif_from_layout
from oci.client import RegistryClient
from tests.support.helpers import own_registry_credentials

layout, work, registry, path = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sif = sif_from_layout(layout, "image", work)

async def push():
    async with RegistryClient(registry, own_registry_credentials(registry)) as client:
        return await push_sif(client, path, "big", sif)

digest = asyncio.run(push())
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "after_kib": after, "sif_bytes": sif.stat().st_size, "digest": digest}))
"""


def test_a_large_image_becomes_a_sif_in_flat_memory(registry, tmp_path):
    content = tmp_path / "content" / "opt"
    content.mkdir(parents=True)
    with (content / "big.bin").open("wb") as out:  # incompressible: the squashfs is as large as the file
        for _ in range(SIZE >> 20):
            out.write(os.urandom(1 << 20))
    layout = tmp_path / "layout"
    run("umoci", "init", "--layout", str(layout))
    run("umoci", "new", "--image", f"{layout}:image")
    run("umoci", "insert", "--image", f"{layout}:image", str(tmp_path / "content"), "/")
    (content / "big.bin").unlink()
    path = f"sif/memory-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(layout), str(tmp_path), registry, path],
        capture_output=True, text=True, cwd=settings.BASE_DIR, env=server_env(), timeout=600,
    )
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    print(measured)
    assert measured["sif_bytes"] > SIZE
    grown_kib = measured["after_kib"] - measured["before_kib"]
    assert grown_kib < (64 << 10), measured  # 64 MiB: a quarter of the layer, which never sits in memory
    manifest = httpx.get(f"http://{registry}/v2/{path}/manifests/big", auth=registry_auth(registry),
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
    assert manifest["layers"][0]["size"] == measured["sif_bytes"]
