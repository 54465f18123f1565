"""Waiting-pull benchmark: other requests with N pulls waiting on a build, against none, in one run.

Needs the local stack with its worker, and the anonymous limits raised (every container request
counts as a pull): `scripts/stack down; WAVE_RATE_LIMIT_PULLS_ANONYMOUS=1000000/60 scripts/stack up`.
Measures POST /v1alpha2/container (`containerImage` = the seeded busybox) in a closed loop, first
with nothing waiting, then while `--waiters` manifest GETs wait for a build whose RUN sleeps, with
the web process's CPU time per request; then checks that every waiting pull got the image once the build ended.

    .venv/bin/python benchmarks/waiting.py [--server http://localhost:9090] [--registry localhost:5000] [--waiters 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time
import os
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"}


async def requests(client: httpx.AsyncClient, url: str, body: dict, count: int, concurrency: int) -> tuple[float, list[float], int]:
    """req/s, latencies in ms, and the number of answers that were not 200."""
    latencies, failures, queue = [], 0, iter(range(count))

    async def worker():
        nonlocal failures
        for _ in queue:
            start = time.perf_counter()
            response = await client.post(url, json=body)
            latencies.append((time.perf_counter() - start) * 1000)
            failures += response.status_code != 200

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start), latencies, failures


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measured(pid: int, label: str, *args) -> tuple:
    """`requests(*args)` with the web process's CPU time per request."""
    before = cpu_seconds(pid)
    rps, latencies, failures = await requests(*args)
    return label, rps, latencies, failures, (cpu_seconds(pid) - before) * 1000 / len(latencies)


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def run(args) -> None:
    pid = int((ROOT / "data" / "run" / "web.pid").read_text())
    api = f"{args.server}/v1alpha2/container"
    plain = {"containerImage": f"{args.registry}/library/busybox:latest"}
    # The waiting pulls get a client of their own: httpcore scans its whole pool for each request.
    limits = httpx.Limits(max_connections=args.waiters)
    async with httpx.AsyncClient(timeout=args.sleep + 120) as client, \
            httpx.AsyncClient(timeout=args.sleep + 120, limits=limits) as waiting:
        await requests(client, api, plain, 50, args.concurrency)  # warm up
        rows = [await measured(pid, "none", client, api, plain, args.requests, args.concurrency)]

        dockerfile = f"FROM {args.registry}/library/busybox\nRUN echo {uuid.uuid4().hex} && sleep {args.sleep}\n"
        build = (await client.post(api, json={"containerFile": base64.b64encode(dockerfile.encode()).decode()})).json()
        name, tag = build["targetImage"].split("/", 1)[1].rsplit(":", 1)
        manifest = f"{args.server}/v2/{name}/manifests/{tag}"
        pulls = [asyncio.create_task(waiting.get(manifest, headers=ACCEPT)) for _ in range(args.waiters)]
        await asyncio.sleep(3 + args.waiters / 100)  # every pull is waiting now
        rows.append(await measured(pid, f"{args.waiters} waiting", client, api, plain, args.requests, args.concurrency))
        early = sum(pull.done() for pull in pulls)
        answers = await asyncio.gather(*pulls, return_exceptions=True)

    print(f"POST /v1alpha2/container, {args.requests} requests, concurrency {args.concurrency}")
    print(f"{'waiting pulls':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-200':>8} {'web CPU ms/req':>15}")
    for label, rps, latencies, failures, cpu in rows:
        print(f"{label:<14} {rps:>8.1f} {p(latencies, 50):>8.1f} {p(latencies, 99):>8.1f} {max(latencies):>8.1f} {failures:>8} {cpu:>15.1f}")
    ok = sum(isinstance(a, httpx.Response) and a.status_code == 200 for a in answers)
    print(f"waiting pulls: {ok}/{args.waiters} got the image (200) after the build; {early} answered before it ended")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="http://localhost:9090")
    parser.add_argument("--registry", default="localhost:5000")
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sleep", type=int, default=45, help="seconds the build's RUN sleeps: longer than the measurement")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
