"""Blob cache benchmark: redirected pulls against the store itself, and a first pull against the registry.

Needs the local stack with its S3 store (`scripts/stack up`) and a worker. In one run it measures:
- a warm blob pulled through the proxy (the 307, then the store) against the same blob read straight
  from its presigned URL, with the same client: MiB/s medians of alternating runs, and the web
  process's CPU seconds per GB pulled (from /proc/PID/stat, utime + stime);
- a new 1 GB blob's first pull (streamed, its copy queued meanwhile) against the same blob straight
  from the registry, and the web process's CPU per GB for that streamed pull.

    .venv/bin/python benchmarks/blob_cache.py [--size-mb 200] [--runs 5] [--skip-1g]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wave_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from benchmarks.registry import registry_auth  # noqa: E402
from tests.support.bigblob import push_big_image  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def download(client: httpx.Client, url: str, auth=None) -> tuple[float, int]:
    """(MiB/s, bytes) of one GET, redirects followed."""
    size, start = 0, time.perf_counter()
    with client.stream("GET", url, auth=auth) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            size += len(chunk)
    return size / (1024 * 1024) / (time.perf_counter() - start), size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=f"http://localhost:{os.environ.get('WAVE_PORT', '9090')}")
    parser.add_argument("--registry", default=f"localhost:{os.environ.get('WAVE_REGISTRY_PORT', '5000')}")
    parser.add_argument("--size-mb", type=int, default=200, help="the warm blob's size")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-1g", action="store_true")
    args = parser.parse_args()
    web_pid = int((ROOT / "data" / "run" / "web.pid").read_text())
    auth = registry_auth(args.registry)
    credentials = settings.WAVE_REGISTRY_CREDENTIALS.get(args.registry)
    client = httpx.Client(timeout=600, follow_redirects=True)

    def pushed(size: int, seed: int) -> tuple[str, str, str]:
        path = f"bench/cache{size}-{seed}"
        digest = push_big_image(args.registry, path, size, seed=seed, credentials=credentials)
        response = httpx.post(f"{args.server}/v1alpha2/container", json={"containerImage": f"{args.registry}/{path}:latest"}, timeout=60)
        response.raise_for_status()
        return path, digest, f"{args.server}/v2/wt/{response.json()['containerToken']}/{path}/blobs/{digest}"

    rows = []
    size = args.size_mb * 1000 * 1000
    _, digest, proxied = pushed(size, seed=size)
    download(client, proxied)  # the first pull streams and queues the copy
    deadline = time.monotonic() + 600
    while not (location := httpx.get(proxied).headers.get("Location")):
        if time.monotonic() > deadline:
            sys.exit("the blob was not cached within 600 s: is a worker running, is the store S3?")
        time.sleep(0.5)
    download(client, location)  # warm the store's page cache and the connection
    pairs, cpu, pulled = [], 0.0, 0
    for _ in range(args.runs):
        direct_rate, _ = download(client, httpx.get(proxied).headers["Location"])
        before = cpu_seconds(web_pid)
        proxy_rate, got = download(client, proxied)
        cpu, pulled = cpu + cpu_seconds(web_pid) - before, pulled + got
        pairs.append((direct_rate, proxy_rate))
    direct_rate, proxy_rate = statistics.median(d for d, _ in pairs), statistics.median(p for _, p in pairs)
    rows.append((f"warm {args.size_mb} MB blob: MiB/s (median of {args.runs})", "store", direct_rate, proxy_rate, f"{proxy_rate / direct_rate:.2f}x"))
    rows.append(("warm: web CPU s per GB pulled", "", 0.0, cpu / (pulled / 1e9), ""))

    if not args.skip_1g:
        path, digest, proxied = pushed(1000**3, seed=int(time.time()))  # a new blob: this is its first pull
        registry_url = f"http://{args.registry}/v2/{path}/blobs/{digest}"
        # Both direct reads first: the copy queued at the proxied pull's end would compete with one after it.
        direct_rate = statistics.mean(download(client, registry_url, auth)[0] for _ in range(2))
        before = cpu_seconds(web_pid)
        first_proxy, got = download(client, proxied)
        cpu = cpu_seconds(web_pid) - before
        rows.append(("1 GB first pull: MiB/s", "registry", direct_rate, first_proxy, f"{first_proxy / direct_rate:.2f}x"))
        rows.append(("1 GB first pull: web CPU s per GB", "", 0.0, cpu / (got / 1e9), ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'against':>8}  {'direct':>10}  {'proxy':>10}  ratio")
    for name, against, d, w, ratio in rows:
        print(f"{name:<{width}}  {against:>8}  {d:>10.2f}  {w:>10.2f}  {ratio}")


if __name__ == "__main__":
    main()
