"""Stop, kill and restart the local stack's Postgres, Redis and registry the way `scripts/stack` runs them.

Each store is started again even when the wait is interrupted, so a failing test never leaves the
rest of the suite without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from django.conf import settings

from tests.support.helpers import free_port, wait_until

DATA = Path(settings.WAVE_DATA_DIR)


def pg_home() -> Path:
    """Where `scripts/stack` put the cluster: data/pg, or /var/tmp when the postgres user cannot reach data/."""
    if (DATA / "pg" / "data" / "PG_VERSION").exists():
        return DATA / "pg"
    checkout = hashlib.sha256(f"{settings.BASE_DIR}\n".encode()).hexdigest()[:12]  # as `echo "$ROOT" | sha256sum`
    return Path(f"/var/tmp/wave-postgres-{checkout}")


def pg_ctl(*args: str) -> None:
    binary = max(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    subprocess.run(["runuser", "-u", "postgres", "--", str(binary), "-D", str(pg_home() / "data"), *args],
                   cwd="/", check=True, capture_output=True, timeout=60)


def restart_postgres(down: float) -> None:
    """Stop Postgres (`-m fast`: every connection is cut), wait `down` seconds, start it with its own options."""
    pg_ctl("stop", "-m", "fast", "-w")
    try:
        time.sleep(down)
    finally:
        pg_ctl("restart", "-w", "-l", str(pg_home() / "postgres.log"))  # not running: starts with postmaster.opts


def restart_redis(down: float, how: int = signal.SIGTERM) -> None:
    """Stop Redis (TERM: it saves, as on any clean restart; KILL: it loses what its AOF has not synced),
    wait `down` seconds, start it from data/redis.conf."""
    restart_pid_service("redis", down, how, ["redis-server", str(DATA / "redis.conf")], urlsplit(settings.REDIS_URL).port)


def restart_registry(down: float) -> None:
    """Stop the local registry, wait `down` seconds, start it from data/registry.yml."""
    with registry_stopped():
        time.sleep(down)


@contextlib.contextmanager
def registry_stopped() -> Iterator[None]:
    """The local registry stopped for as long as the block runs, then started from data/registry.yml."""
    port = int(settings.WAVE_DEFAULT_REGISTRY.rsplit(":", 1)[1])
    with pid_service_stopped("registry", signal.SIGTERM, ["docker-registry", "serve", str(DATA / "registry.yml")], port):
        yield


def restart_pid_service(name: str, down: float, how: int, command: list[str], port: int) -> None:
    """Signal the process in data/run/<name>.pid, wait `down` seconds once it is gone, start `command`
    again (its output appended to data/logs/<name>.log) and wait for it to listen on `port`."""
    with pid_service_stopped(name, how, command, port):
        time.sleep(down)


@contextlib.contextmanager
def pid_service_stopped(name: str, how: int, command: list[str], port: int) -> Iterator[None]:
    """The process in data/run/<name>.pid signalled and gone while the block runs; then `command`
    started again, whatever happened in the block, and listening on `port`."""
    pid_file = DATA / "run" / f"{name}.pid"
    pid = int(pid_file.read_text())
    os.kill(pid, how)
    try:
        wait_until(lambda: gone(pid), timeout=20, every=0.1)
        yield
    finally:
        with (DATA / "logs" / f"{name}.log").open("a") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=settings.BASE_DIR, start_new_session=True)
        pid_file.write_text(f"{process.pid}\n")
        wait_until(lambda: listening(port), timeout=20, every=0.1)


def gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reaps it when this process started it (an earlier restart)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def closed_store() -> tuple[str, str]:
    """An object store URL nothing answers, and the name errors give it: the store "down" for one
    test's settings or processes, while the stack's SeaweedFS serves the rest of the suite."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    return f"s3://wave?endpoint={endpoint}", f"the object store {endpoint} (bucket wave)"
