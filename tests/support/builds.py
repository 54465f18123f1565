"""Builds for tests: requests of each kind, a build caught running, its worker's processes, SIF pulls."""

from __future__ import annotations

import socket
import subprocess
import threading
import uuid
from pathlib import Path

from django.conf import settings

from .helpers import b64, post, registry_auth, wait_until


def conda_request(channel: str, busybox: str, entries: list[str], **extra) -> dict:
    # A fresh build repository per call: each test builds for real, whatever earlier runs left behind.
    return {
        "packages": {"type": "CONDA", "entries": entries, "channels": [channel], "condaOpts": {"basePackages": "", "baseImage": busybox}},
        "buildRepository": f"{settings.WAVE_DEFAULT_REGISTRY}/conda/{uuid.uuid4().hex[:10]}",
        **extra,
    }


def pull_sif(target: str, dest) -> "Path":
    """Pull an oras:// SIF with oras-py, as a client would."""
    import oras.client

    auth = registry_auth(target.removeprefix("oras://"))  # the local registry asks for Basic auth
    client = oras.client.OrasClient(insecure=True, auth_backend="basic" if auth else "token")
    if auth:
        client.auth.set_basic_auth(*auth)
    files = client.pull(target=target.removeprefix("oras://"), outdir=str(dest))
    return next(Path(f) for f in files if str(f).endswith(".sif"))


def running_build(api, registry, marker: str) -> str:
    """Request a build whose RUN step sleeps a minute; return its id once the step runs."""
    body = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN sleep 60; echo {marker}\n")}).json()
    wait_until(lambda: subprocess.run(["pgrep", "-f", f"sleep 60; echo {marker}"], capture_output=True).returncode == 0, timeout=90)
    return body["buildId"]


def horses_of(worker: subprocess.Popen) -> list[int]:
    return [int(pid) for pid in subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()]


class CountingListener:
    """A TCP listener that counts the connections it accepts (and answers nothing useful)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.socket = socket.create_server((host, 0))
        self.host, self.port = host, self.socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.socket.close()
