"""Gzip-bomb benchmark: refusing the review's 2.4 MB bomb against verifying a normal layer of the
same compressed size, through the running web process, in one run.

Needs the local stack (`scripts/stack up`). Both bodies are `data:` layers on the seeded busybox
with a wrong `tarDigest`, so both are refused (400) and nothing is stored: the baseline (random
bytes, gzip) is inflated and hashed whole before its refusal, the bomb (2,400 MiB of zeros) only
until the ratio limit stops it. After one request of each kind, prints the web process's peak RSS
over its RSS before after `--rounds` bombs and then as many normal layers, then the median latency
and web CPU time per request of alternating rounds.

    .venv/bin/python benchmarks/bounds.py [--server http://localhost:9090] [--registry localhost:5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.bombs import gzip_bomb  # noqa: E402


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def body(image: str, blob: bytes) -> dict:
    layer = {
        "location": "data:" + base64.b64encode(blob).decode(),
        "gzipDigest": "sha256:" + hashlib.sha256(blob).hexdigest(),
        "gzipSize": len(blob),
        "tarDigest": "sha256:" + "0" * 64,
    }
    return {"containerImage": image, "containerConfig": {"layers": [layer]}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://localhost:9090")
    parser.add_argument("--registry", default="localhost:5000")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pid = int((ROOT / "data" / "run" / "web.pid").read_text())
    image = f"{args.registry}/library/busybox:latest"
    bomb = gzip_bomb(2400)
    normal = gzip.compress(os.urandom(len(bomb) - 1000), compresslevel=1)
    bodies = {"bomb": httpx.Request("POST", "/", json=body(image, bomb)).content,
              "normal layer": httpx.Request("POST", "/", json=body(image, normal)).content}
    print(f"bomb: {len(bomb):,} bytes of gzip, {2400 * 2**20:,} inflated; normal layer: {len(normal):,} bytes of gzip")
    times: dict[str, list[float]] = {name: [] for name in bodies}
    cpu: dict[str, list[float]] = {name: [] for name in bodies}
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=args.server, timeout=120) as client:
        for content in bodies.values():  # one of each first: imports and pools are loaded before measuring
            client.post("/v1alpha2/container", content=content, headers=headers)
        rss_before = status_kib(pid, "VmRSS")
        for name, content in bodies.items():  # memory: each kind alone, the bomb first
            for _ in range(args.rounds):
                client.post("/v1alpha2/container", content=content, headers=headers)
            print(f"web process after {args.rounds} x {name}: peak RSS "
                  f"{(status_kib(pid, 'VmHWM') - rss_before) / 1024:+.1f} MiB over its RSS before")
        for _ in range(args.rounds):  # time: alternating
            for name, content in bodies.items():
                before, start = cpu_seconds(pid), time.perf_counter()
                response = client.post("/v1alpha2/container", content=content, headers=headers)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(cpu_seconds(pid) - before)
                assert response.status_code == 400, (name, response.status_code, response.text[:200])
                if len(times[name]) == 1:
                    print(f"  {name}: {response.json()['message'][:90]}")
    for name in bodies:
        print(f"{name}: median of {args.rounds}: {statistics.median(times[name]) * 1000:.0f} ms, "
              f"web CPU {statistics.median(cpu[name]) * 1000:.0f} ms")
    ratio = statistics.median(times["bomb"]) / statistics.median(times["normal layer"])
    print(f"bomb / normal layer: {ratio:.2f}x")
    print(f"web process: RSS before {rss_before / 1024:.0f} MiB, peak {status_kib(pid, 'VmHWM') / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
