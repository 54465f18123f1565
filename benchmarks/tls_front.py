"""What the TLS front costs: the same pulls straight from uvicorn (HTTP) and through the front (HTTPS,
verifying the local CA), in one run, with the same token.

Needs the stack with the front and the anonymous pull limit raised for the thousands of pulls it makes:
`WAVE_TLS=1 WAVE_RATE_LIMIT_PULLS_ANONYMOUS=1000000/60 scripts/stack up`. Prints p50/p99 latency and
requests/s of a warm manifest GET, the throughput of a 100 MB blob (median of 5, alternating) and the
front's CPU seconds per GiB it carried, each as a ratio of the direct figure.

    .venv/bin/python benchmarks/tls_front.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wave_site.settings")

from django.conf import settings  # noqa: E402

from benchmarks.proxy import latencies, median_rates, p, throughput  # noqa: E402
from tests.support.bigblob import push_big_image  # noqa: E402


def front_cpu_seconds() -> float:
    """User + system CPU of the front's master and workers (they share its process group)."""
    master = int((ROOT / "data" / "run" / "front.pid").read_text())
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == master:  # pgrp
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    # httpx verifies against SSL_CERT_FILE when it is set: the front's certificate is the local CA's.
    # Set when run, not at import (an importer's every later httpx client would trust only that CA).
    os.environ["SSL_CERT_FILE"] = str(ROOT / "data" / "tls" / "ca.crt")
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    ports = dict(line.split("=", 1) for line in (ROOT / "data" / "ports.env").read_text().split() if "=" in line)
    direct, front = f"http://localhost:{ports['WAVE_PORT']}", f"https://localhost:{ports['WAVE_TLS_PORT']}"
    registry = settings.WAVE_DEFAULT_REGISTRY

    def token_for(image: str) -> str:
        response = httpx.post(f"{front}/v1alpha2/container", json={"containerImage": image}, timeout=60)
        response.raise_for_status()
        return response.json()["containerToken"]

    rows = []
    token = token_for(f"{registry}/library/busybox:latest")
    path = f"/v2/wt/{token}/library/busybox/manifests/latest"
    d, f = asyncio.run(latencies(direct + path, args.requests)), asyncio.run(latencies(front + path, args.requests))
    d_rps = asyncio.run(throughput(direct + path, args.requests, args.concurrency))
    f_rps = asyncio.run(throughput(front + path, args.requests, args.concurrency))
    rows.append(("manifest GET: p50 ms", p(d, 50), p(f, 50), f"+{p(f, 50) - p(d, 50):.2f} ms"))
    rows.append(("manifest GET: p99 ms", p(d, 99), p(f, 99), f"+{p(f, 99) - p(d, 99):.2f} ms"))
    rows.append((f"manifest GET: req/s (c={args.concurrency})", d_rps, f_rps, f"{f_rps / d_rps:.2f}x"))

    size, runs = 100 * 1000 * 1000, 5
    digest = push_big_image(registry, "bench/tls100m", size, seed=size, credentials=settings.WAVE_REGISTRY_CREDENTIALS.get(registry))
    path = f"/v2/wt/{token_for(f'{registry}/bench/tls100m:latest')}/bench/tls100m/blobs/{digest}"
    cpu = front_cpu_seconds()
    d_rate, f_rate = median_rates(direct + path, front + path, runs, None)
    cpu = front_cpu_seconds() - cpu
    rows.append((f"blob 100 MB: MiB/s (median of {runs})", d_rate, f_rate, f"{f_rate / d_rate:.2f}x"))
    rows.append(("front CPU s per GiB carried", 0.0, cpu / (runs * size / 2**30), ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'direct':>10}  {'front':>10}  ratio")
    for name, a, b, ratio in rows:
        print(f"{name:<{width}}  {a:>10.2f}  {b:>10.2f}  {ratio}")


if __name__ == "__main__":
    main()
