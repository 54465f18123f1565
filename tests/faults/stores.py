"""Restart the local stack's Postgres and Redis the way `scripts/stack` runs them, down for a while.

Each store is started again even when the wait is interrupted, so a failing test never leaves the
rest of the suite without it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from tests.conftest import wait_until

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


def restart_redis(down: float) -> None:
    """Stop Redis (TERM: it saves, as on any clean restart), wait `down` seconds, start it from data/redis.conf."""
    pid_file = DATA / "run" / "redis.pid"
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGTERM)
    try:
        wait_until(lambda: gone(pid), timeout=20, every=0.1)
        time.sleep(down)
    finally:
        with (DATA / "logs" / "redis.log").open("a") as log:
            redis = subprocess.Popen(["redis-server", str(DATA / "redis.conf")], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        pid_file.write_text(f"{redis.pid}\n")
        wait_until(lambda: listening(urlsplit(settings.REDIS_URL).port), timeout=20, every=0.1)


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

