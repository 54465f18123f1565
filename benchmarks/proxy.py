"""Pull-path benchmark: the proxy against the registry behind it, measured in one run.

Needs the local stack, with the anonymous pull limit raised for the thousands of pulls it makes:
`scripts/stack down; WAVE_RATE_LIMIT_PULLS_ANONYMOUS=1000000/60 scripts/stack up`. Prints p50/p99 latency and requests/s for a warm
manifest GET, and throughput and the server's peak memory for 100 MB and 1 GB blobs, each as a
ratio of the same operation straight against the local registry.

    .venv/bin/python benchmarks/proxy.py [--requests 2000] [--concurrency 16] [--skip-1g]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wave_site.settings")

from django.conf import settings  # noqa: E402

from benchmarks.registry import registry_auth  # noqa: E402
from tests.support.bigblob import push_big_image  # noqa: E402

ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def latencies(url: str, count: int, auth=None) -> list[float]:
    out = []
    async with httpx.AsyncClient(headers=ACCEPT, auth=auth) as client:
        for _ in range(20):
            (await client.get(url)).raise_for_status()
        for _ in range(count):
            start = time.perf_counter()
            response = await client.get(url)
            out.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
    return out


async def throughput(url: str, count: int, concurrency: int, auth=None) -> float:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(headers=ACCEPT, limits=limits, auth=auth) as client:
        queue = iter(range(count))

        async def worker():
            for _ in queue:
                (await client.get(url)).raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)


def download_mib_s(url: str, auth=None) -> float:
    size, start = 0, time.perf_counter()
    with httpx.stream("GET", url, timeout=600, auth=auth) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            size += len(chunk)
    return size / (1024 * 1024) / (time.perf_counter() - start)


def median_rates(direct: str, proxied: str, runs: int, auth) -> tuple[float, float]:
    """Alternating runs, so that both see the same page cache and machine load; `auth` is the direct one's."""
    for url, url_auth in ((direct, auth), (proxied, None)):
        httpx.get(url, headers={"Range": "bytes=0-0"}, auth=url_auth).raise_for_status()  # warm: token, client, connection
    pairs = [(download_mib_s(direct, auth), download_mib_s(proxied)) for _ in range(runs)]
    return statistics.median(d for d, _ in pairs), statistics.median(p for _, p in pairs)


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://localhost:9090")
    parser.add_argument("--registry", default="localhost:5000")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--skip-1g", action="store_true")
    args = parser.parse_args()
    web_pid = int((ROOT / "data" / "run" / "web.pid").read_text())
    auth = registry_auth(args.registry)
    credentials = settings.WAVE_REGISTRY_CREDENTIALS.get(args.registry)  # the pushes' own, as the service's

    def token_for(image: str, **extra) -> str:
        response = httpx.post(f"{args.server}/v1alpha2/container", json={"containerImage": image, **extra}, timeout=60)
        response.raise_for_status()
        return response.json()["containerToken"]

    rows = []
    direct = f"http://{args.registry}/v2/library/busybox/manifests/latest"
    for label, extra in (("manifest GET (plain token)", {}), ("manifest GET (augmented)", {"containerConfig": {"env": ["A=1"]}})):
        token = token_for(f"{args.registry}/library/busybox:latest", **extra)
        proxied = f"{args.server}/v2/wt/{token}/library/busybox/manifests/latest"
        d, w = asyncio.run(latencies(direct, args.requests, auth)), asyncio.run(latencies(proxied, args.requests))
        d_rps = asyncio.run(throughput(direct, args.requests, args.concurrency, auth))
        w_rps = asyncio.run(throughput(proxied, args.requests, args.concurrency))
        rows.append((f"{label}: p50 ms", p(d, 50), p(w, 50), f"+{p(w, 50) - p(d, 50):.2f} ms"))
        rows.append((f"{label}: p99 ms", p(d, 99), p(w, 99), f"+{p(w, 99) - p(d, 99):.2f} ms"))
        rows.append((f"{label}: req/s (c={args.concurrency})", d_rps, w_rps, f"{w_rps / d_rps:.2f}x"))

    sizes = [("100 MB", 100 * 1000 * 1000, 5)] + ([] if args.skip_1g else [("1 GB", 1000**3, 3)])
    for label, size, runs in sizes:
        path = f"bench/blob{size}"
        digest = push_big_image(args.registry, path, size, seed=size, credentials=credentials)
        token = token_for(f"{args.registry}/{path}:latest")
        proxied = f"{args.server}/v2/wt/{token}/{path}/blobs/{digest}"
        httpx.get(proxied, headers={"Range": "bytes=0-0"}).raise_for_status()
        before = peak_rss_mib(web_pid)
        direct_rate, proxy_rate = median_rates(f"http://{args.registry}/v2/{path}/blobs/{digest}", proxied, runs, auth)
        after = peak_rss_mib(web_pid)
        rows.append((f"blob {label}: MiB/s (median of {runs})", direct_rate, proxy_rate, f"{proxy_rate / direct_rate:.2f}x"))
        rows.append((f"blob {label}: server peak RSS MiB", before, after, f"+{after - before:.1f} MiB"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'registry':>10}  {'proxy':>10}  ratio")
    for name, d, w, ratio in rows:
        print(f"{name:<{width}}  {d:>10.2f}  {w:>10.2f}  {ratio}")


if __name__ == "__main__":
    main()
