"""Web-process benchmark: cached manifest GETs through /v2/ with 2 web processes against 1, in one run.

Needs the local stack's stores (`scripts/stack up`: Postgres, Redis, the registry with its seeded
busybox). Starts two servers of its own as `scripts/stack` starts the web (uvicorn `--workers 1` and
`--workers 2`, each with a fresh PROMETHEUS_MULTIPROC_DIR, anonymous pull limits raised for the run),
warms one token's manifest into the cache, then measures req/s in alternating rounds at a fixed number
of keep-alive connections, and prints the medians and their ratio. The client runs on the same machine
(a light asyncio HTTP/1.1 client in this process): its CPU is part of what is measured.

    .venv/bin/python benchmarks/web_workers.py [--requests 3000] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wave_site.settings")

from django.conf import settings  # noqa: E402

ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(workers: int, folder: Path) -> tuple[subprocess.Popen, int]:
    port, metrics = free_port(), folder / f"prometheus-{workers}"
    metrics.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics), "WAVE_SERVER_URL": f"http://localhost:{port}",
           "WAVE_RATE_LIMIT_PULLS_ANONYMOUS": "1000000000/60", "WAVE_RATE_LIMIT_BUILDS_ANONYMOUS": "1000000/60"}
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/uvicorn"), "wave_site.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--no-proxy-headers", "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=(folder / f"web-{workers}.log").open("w"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/service-info", timeout=2).status_code == 200:
                return process, port
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server with {workers} workers did not start: see {folder}/web-{workers}.log")


async def connection(port: int, path: str, todo: list[int], done: list[int]) -> None:
    """One keep-alive connection sending GETs one after another until `todo` is empty."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nAccept: {ACCEPT}\r\n\r\n".encode()
    try:
        while todo:
            todo.pop()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            if status != 200:
                raise SystemExit(f"GET {path}: {status}")
            done.append(1)
    finally:
        writer.close()


async def rate(port: int, path: str, requests: int, connections: int) -> float:
    todo, done = list(range(requests)), []
    started = time.perf_counter()
    await asyncio.gather(*(connection(port, path, todo, done) for _ in range(connections)))
    return len(done) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    image = f"{settings.WAVE_DEFAULT_REGISTRY}/library/busybox:latest"
    with tempfile.TemporaryDirectory(prefix="wave-web-workers-") as tmp:
        servers = {workers: start(workers, Path(tmp)) for workers in (1, 2)}
        try:
            paths = {}
            for workers, (_, port) in servers.items():
                answer = httpx.post(f"http://127.0.0.1:{port}/v1alpha2/container", json={"containerImage": image}, timeout=60)
                answer.raise_for_status()
                paths[workers] = f"/v2/wt/{answer.json()['containerToken']}/library/busybox/manifests/latest"
                asyncio.run(rate(port, paths[workers], 500, args.connections))  # warm: the cache, every process's pools
            rates: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.rounds):  # alternating, so both see the same machine load
                for workers, (_, port) in servers.items():
                    rates[workers].append(asyncio.run(rate(port, paths[workers], args.requests, args.connections)))
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(30)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"cached manifest GET through /v2/, {args.connections} keep-alive connections, {args.requests} requests a round, "
          f"median of {args.rounds} rounds; {os.cpu_count()} cores, client on the same machine")
    print(f"WAVE_WEB_WORKERS=1: {one:8.0f} req/s   (rounds: {', '.join(f'{r:.0f}' for r in rates[1])})")
    print(f"WAVE_WEB_WORKERS=2: {two:8.0f} req/s   (rounds: {', '.join(f'{r:.0f}' for r in rates[2])})")
    print(f"ratio 2/1: {two / one:.2f}x")


if __name__ == "__main__":
    main()
