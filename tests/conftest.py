"""Shared fixtures: the real local registry (seeded), a private htpasswd registry, users and tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import bcrypt
import httpx
import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from builds.base_images import BUSYBOX_PATH, busybox_image
from oci.auth import Credentials
from oci.client import RegistryClient
from oci.image import push_image

from .factories import UserFactory, WorkspaceFactory, api_token


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fault tests restart the stack's stores: they run after everything else."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/faults/"))


@pytest.fixture(scope="session", autouse=True)
def clean_redis():
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(scope="session", autouse=True)
def flush_retries_a_deadlock():
    """A transactional test's closing TRUNCATE can deadlock with a batch of pull records that the
    test server is still writing (its inserts lock the rows they reference); Postgres then aborts
    the TRUNCATE. Retry it: the batch is done by then."""
    from django.core.management.base import CommandError
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        for attempt in range(3):
            try:
                return original(self)
            except CommandError as exc:
                if attempt == 2 or "deadlock" not in str(exc.__cause__):
                    raise
                time.sleep(0.5)

    TransactionTestCase._fixture_teardown = teardown
    yield
    TransactionTestCase._fixture_teardown = original


@pytest.fixture(scope="session")
def registry() -> str:
    """The local stack's registry (host:port), with busybox seeded."""
    push(settings.WAVE_DEFAULT_REGISTRY, BUSYBOX_PATH, "latest", busybox_image())
    return settings.WAVE_DEFAULT_REGISTRY


@pytest.fixture(scope="session")
def registry_authfile(tmp_path_factory) -> str:
    """An auth.json with the service's own registry credentials, for skopeo's `--authfile`
    (a file rather than `--creds`, which every process could read in /proc)."""
    auths = {
        host: {"auth": base64.b64encode(f"{c.username}:{c.password}".encode()).decode()}
        for host, c in settings.WAVE_REGISTRY_CREDENTIALS.items()
    }
    path = tmp_path_factory.mktemp("registry-auth") / "auth.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps({"auths": auths}))
    return str(path)


@pytest.fixture(scope="session")
def busybox(registry) -> str:
    return f"{registry}/{BUSYBOX_PATH}:latest"


class PrivateRegistry:
    def __init__(self, host: str, username: str, password: str):
        self.host, self.username, self.password = host, username, password

    @property
    def busybox(self) -> str:
        return f"{self.host}/private/busybox:latest"


@pytest.fixture(scope="session")
def private_registry(tmp_path_factory) -> PrivateRegistry:
    """A second docker-registry with htpasswd auth, on its own loopback port, holding busybox."""
    root: Path = tmp_path_factory.mktemp("private-registry")
    username, password = "alice", "s3cret-registry-password"
    (root / "htpasswd").write_text(f"{username}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()}\n")
    port = free_port()
    (root / "config.yml").write_text(
        f"""version: 0.1
log: {{level: error}}
storage:
  filesystem: {{rootdirectory: {root / 'data'}}}
http:
  addr: 127.0.0.1:{port}
auth:
  htpasswd: {{realm: private-test, path: {root / 'htpasswd'}}}
"""
    )
    process = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v2/")
        private = PrivateRegistry(f"127.0.0.1:{port}", username, password)
        push(private.host, "private/busybox", "latest", busybox_image(), Credentials(username, password))
        yield private
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", email="owner@seqera.io")


@pytest.fixture
def member(db):
    return UserFactory(username="member", email="member@seqera.io")


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider", email="outsider@gmail.com")


@pytest.fixture
def workspace(owner, member):
    workspace = WorkspaceFactory(name="lab")
    workspace.members.add(owner, member)
    return workspace


@pytest.fixture
def owner_token(owner) -> str:
    return api_token(owner)


@pytest.fixture
def outsider_token(outsider) -> str:
    return api_token(outsider)


def post(api: APIClient, path: str, body) -> httpx.Response:
    return api.post(path, body, format="json")


@pytest.fixture(scope="session")
def multiarch(registry) -> str:
    """An OCI index with an amd64 image (busybox) and an arm64 image (one marker file)."""
    from oci.image import new_image, new_index
    from oci.layer import LayerBuilder
    from oci.platform import Platform

    amd64 = busybox_image()
    arm64 = new_image(
        [LayerBuilder().add_file("etc/arch", b"arm64\n").build()], {"Cmd": ["cat", "/etc/arch"]}, Platform("linux", "arm64")
    )
    index = new_index([(amd64, Platform("linux", "amd64")), (arm64, Platform("linux", "arm64"))])

    async def run() -> None:
        async with RegistryClient(registry, own_registry_credentials(registry)) as client:
            for image in (amd64, arm64):
                await push_image(client, "library/multiarch", image.manifest.digest, image)
            await client.push_manifest("library/multiarch", "latest", index)

    asyncio.run(run())
    return f"{registry}/library/multiarch:latest"


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


def start_server(log: Path, **env: str) -> WaveServer:
    """The service under uvicorn on a free port, on this session's database and Redis."""
    port = free_port()
    env = server_env(**{"WAVE_SERVER_URL": f"http://localhost:{port}", "WAVE_UPSTREAM_CLIENT_TTL": "0", **env})
    with log.open("w") as out:
        process = subprocess.Popen(
            # As scripts/stack starts it: the app, not uvicorn, decides whom X-Forwarded-For is believed from.
            [sys.executable, "-m", "uvicorn", "wave_site.asgi:application", "--host", "127.0.0.1", "--port", str(port),
             "--no-proxy-headers"],
            cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/service-info", timeout=30)
    except RuntimeError:
        process.kill()
        raise
    return WaveServer(port, process, log)


def stop_server(server: WaveServer) -> None:
    server.process.terminate()
    server.process.wait(10)


@pytest.fixture(scope="session")
def wave_server(django_db_setup, tmp_path_factory) -> WaveServer:
    server = start_server(tmp_path_factory.mktemp("wave-server") / "server.log")
    yield server
    stop_server(server)


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a real client tool; a failure shows its output."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs)
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def podman(tmp_path_factory):
    """`podman` with its own storage and a containers.conf that works on this kind of machine."""
    root = tmp_path_factory.mktemp("podman")
    conf = root / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]\nnetns = "host"\n'
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def podman_run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return run("podman", "--root", str(root / "root"), "--runroot", str(root / "runroot"), *args, env=env, timeout=timeout)

    return podman_run


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


@pytest.fixture(scope="session")
def build_worker(django_db_setup, tmp_path_factory):
    process = start_worker(tmp_path_factory.mktemp("worker") / "worker.log")
    yield process
    process.terminate()
    process.wait(20)


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


@pytest.fixture(scope="session")
def conda_channel(tmp_path_factory) -> str:
    """The URL of a channel of real test packages (see tests/conda_channel.py), served on loopback."""
    from .conda_channel import build_channel, serve

    url, server = serve(build_channel(tmp_path_factory.mktemp("conda-channel")))
    yield url
    server.shutdown()
