"""Conda build benchmark: cold and warm build time, and layer reuse between images sharing packages.

Needs the local stack, with the benchmark's channel port allow-listed (the service refuses loopback
channels otherwise): `scripts/stack down; WAVE_SSRF_ALLOWLIST=localhost:5000,127.0.0.1:5000,127.0.0.1:18830
scripts/stack up`. Makes a channel of N synthetic packages (each with
`--size` bytes of incompressible data) served on loopback, then through the API:
- builds all N cold (the worker's package cache emptied first) and warm (same packages, new repository);
- builds A+B, then A+C into one repository, and reads how many bytes the second push uploaded
  (from its log) against the size of the whole second image, and how many distinct bytes a client
  pulling both images downloads against the sum of both images.

    .venv/bin/python benchmarks/conda.py [--packages 20] [--size 2000000]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wave_site.settings")

from tests.support.conda_channel import package, serve  # noqa: E402
from benchmarks.registry import registry_auth  # noqa: E402

SERVER = "http://localhost:9090"


def make_channel(directory: Path, count: int, size: int) -> None:
    import asyncio

    from rattler.index import index_fs

    rng = random.Random(7)
    for i in range(count):
        package(directory, f"bench-pkg-{i}", "1.0", "noarch", {f"share/bench/{i}.bin": (rng.randbytes(size), 0o644)})
    (directory / "linux-64").mkdir(exist_ok=True)
    asyncio.run(index_fs(directory, write_zst=False, write_shards=False))


def build(channel: str, entries: list[str], repository: str) -> tuple[float, dict]:
    body = {
        "packages": {"type": "CONDA", "entries": entries, "channels": [channel],
                     "condaOpts": {"basePackages": "", "baseImage": "localhost:5000/library/busybox:latest"}},
        "buildRepository": repository,
    }
    start = time.perf_counter()
    response = httpx.post(f"{SERVER}/v1alpha2/container", json=body, timeout=60).json()
    while True:
        status = httpx.get(f"{SERVER}/v1alpha1/builds/{response['buildId']}/status").json()
        if status["status"] == "COMPLETED":
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    if not status["succeeded"]:
        raise SystemExit(httpx.get(f"{SERVER}/v1alpha1/builds/{response['buildId']}/logs").text)
    return elapsed, httpx.get(f"{SERVER}/v1alpha1/builds/{response['buildId']}").json()


def layers(image: str) -> dict[str, int]:
    repository, tag = image.rsplit(":", 1)
    host, path = repository.split("/", 1)
    manifest = httpx.get(f"http://{host}/v2/{path}/manifests/{tag}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
                         auth=registry_auth(host)).json()
    return {layer["digest"]: layer["size"] for layer in manifest["layers"]}


def uploaded(record: dict) -> int:
    log = httpx.get(f"{SERVER}/v1alpha1/builds/{record['buildId']}/logs").text
    return int(re.search(r"Uploaded (\d+) bytes", log).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=20)
    parser.add_argument("--size", type=int, default=2_000_000)
    parser.add_argument("--channel-port", type=int, default=18830)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        make_channel(Path(work), args.packages, args.size)
        channel, server = serve(Path(work), args.channel_port)
        names = [f"bench-pkg-{i}" for i in range(args.packages)]
        run = uuid.uuid4().hex[:8]
        # the worker's package cache (WAVE_CONDA_WORK_DIR/pkgs), emptied for the cold build
        shutil.rmtree(Path(os.environ.get("WAVE_CONDA_WORK_DIR", "/var/tmp/wave-conda")) / "pkgs", ignore_errors=True)
        cold, _ = build(channel, names, f"localhost:5000/bench/conda-cold-{run}")
        warm, _ = build(channel, names, f"localhost:5000/bench/conda-warm-{run}")

        half = args.packages // 2
        a, b, c = names[:half], names[half : half + 1], names[half + 1 : half + 2]
        repository = f"localhost:5000/bench/conda-reuse-{run}"
        _, first = build(channel, a + b, repository)
        _, second = build(channel, a + c, repository)
        first_layers, second_layers = layers(first["targetImage"]), layers(second["targetImage"])
        server.shutdown()

    second_size = sum(second_layers.values())
    both_sum = sum(first_layers.values()) + second_size
    both_distinct = sum({**first_layers, **second_layers}.values())
    pushed = uploaded(second)
    rows = [
        (f"build of {args.packages} packages: seconds", cold, warm, f"warm/cold {warm / cold:.2f}x"),
        ("second push A+C after A+B: bytes uploaded", second_size, pushed, f"{pushed / second_size:.3f}x of its image"),
        ("client pulling both: bytes downloaded", both_sum, both_distinct, f"{both_distinct / both_sum:.3f}x of the sum"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'baseline':>14}  {'measured':>14}  ratio")
    for name, base, measured, ratio in rows:
        print(f"{name:<{width}}  {base:>14.2f}  {measured:>14.2f}  {ratio}")


if __name__ == "__main__":
    main()
