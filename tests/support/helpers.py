"""Small helpers for tests: the stack's names, waiting on a condition, real client tools, requests."""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
import time
import uuid

import httpx
from django.conf import settings
from rest_framework.test import APIClient

from oci.auth import Credentials
from oci.client import RegistryClient
from oci.image import push_image


# The stack's registry and the service's own authority, whatever ports the stack was started on:
# tests name these instead of a port.
REGISTRY = settings.WAVE_DEFAULT_REGISTRY
SERVER = settings.WAVE_SERVER_AUTHORITY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


def own_registry_credentials(host: str) -> Credentials | None:
    """The service's credentials for a registry it runs: what tests need to read or write it directly."""
    return settings.WAVE_REGISTRY_CREDENTIALS.get(host)


def registry_auth(image: str) -> tuple[str, str] | None:
    """httpx `auth` for a direct request to the registry of `image` (or of a `host[:port]`)."""
    credentials = own_registry_credentials(image.split("/")[0])
    return (credentials.username, credentials.password) if credentials else None


def push(registry: str, path: str, tag: str, image, credentials: Credentials | None = None) -> str:
    async def run() -> str:
        async with RegistryClient(registry, credentials or own_registry_credentials(registry)) as client:
            return await push_image(client, path, tag, image)

    return asyncio.run(run())


def post(api: APIClient, path: str, body) -> httpx.Response:
    return api.post(path, body, format="json")


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a real client tool; a failure shows its output."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs)
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def wait_until(check, timeout: float = 120.0, every: float = 0.25):
    """Poll `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {check}")
        time.sleep(every)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unique() -> str:
    """A marker that makes each test's Dockerfile (and so its build hash) new in every run."""
    return uuid.uuid4().hex[:12]


def completed(server, build_id: str) -> dict:
    def done():
        status = httpx.get(f"{server.url}/v1alpha1/builds/{build_id}/status").json()
        return status if status["status"] == "COMPLETED" else None

    return wait_until(done, timeout=180)

ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"}


def manifest_url(server, target_image: str) -> str:
    name, tag = target_image.split("/", 1)[1].rsplit(":", 1)
    return f"{server.url}/v2/{name}/manifests/{tag}"


def dockerfile(marker: str | None = None, text: str = "") -> str:
    """A base64 Dockerfile on the stack's busybox, new in every run unless `marker` is given."""
    return b64(f"FROM {REGISTRY}/library/busybox\nRUN echo {marker or unique()} > /marker\n{text}")
