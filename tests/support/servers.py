"""The service and its RQ workers as real processes (uvicorn, `manage.py rqworker`) on the test session's
database and Redis, and a private registry of their own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
from django.conf import settings

from .helpers import free_port, wait_for_http


class PrivateRegistry:
    def __init__(self, host: str, username: str, password: str):
        self.host, self.username, self.password = host, username, password

    @property
    def busybox(self) -> str:
        return f"{self.host}/private/busybox:latest"


class WaveServer:
    """The service under uvicorn in its own process, on the test database."""

    def __init__(self, port: int, process: subprocess.Popen, log: Path):
        self.port, self.process, self.log = port, process, log
        self.url = f"http://localhost:{port}"
        self.authority = f"localhost:{port}"

    def request_container(self, body: dict) -> dict:
        response = httpx.post(f"{self.url}/v1alpha2/container", json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def peak_rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def server_env(**extra: str) -> dict[str, str]:
    """The environment for a service process that shares this test session's database and Redis."""
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{quote(db['PASSWORD'], safe='')}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        **extra,
    }


def start_server(log: Path, workers: int = 1, **env: str) -> WaveServer:
    """The service under uvicorn on a free port, on this session's database and Redis; `workers` > 1
    runs that many web processes under uvicorn's supervisor (set PROMETHEUS_MULTIPROC_DIR with it)."""
    port = free_port()
    env = server_env(**{"WAVE_SERVER_URL": f"http://localhost:{port}", "WAVE_UPSTREAM_CLIENT_TTL": "0", **env})
    with log.open("w") as out:
        process = subprocess.Popen(
            # As scripts/stack starts it: the app, not uvicorn, decides whom X-Forwarded-For is believed from;
            # pulls still waiting on a build do not hold a shutdown past a few seconds.
            [sys.executable, "-m", "uvicorn", "wave_site.asgi:application", "--host", "127.0.0.1", "--port", str(port),
             "--no-proxy-headers", "--timeout-graceful-shutdown", "5", "--workers", str(workers)],
            cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/service-info", timeout=30)
    except BaseException:  # any failure here, not only the wait's: a server left running holds the test database
        process.kill()
        raise
    return WaveServer(port, process, log)


def stop_server(server: WaveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(15)
    except subprocess.TimeoutExpired:  # still a failure, but not one that holds the test database open
        server.process.kill()
        server.process.wait()
        raise


def start_worker(log: Path, queue: str = "default", **env: str) -> subprocess.Popen:
    """An RQ worker process on the test database, in its own process group (so it can be killed whole).

    Its build logs are written on every output (WAVE_BUILD_LOG_FLUSH=0), so that a log write from a
    place that must not touch the database fails every time, not by chance of timing.
    """
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "--serializer", settings.RQ_SERIALIZER, queue],
            cwd=settings.BASE_DIR, env=server_env(WAVE_BUILD_LOG_FLUSH="0", **env), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

