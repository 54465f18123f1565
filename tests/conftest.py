"""Shared fixtures: the real local registry (seeded), a private htpasswd registry, users and tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import bcrypt
import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from builds.base_images import BUSYBOX_PATH, busybox_image
from builds.models import Build
from oci.auth import Credentials
from oci.client import RegistryClient
from oci.image import push_image

from tests.support.clock import Clock
from tests.support.factories import BuildFactory, UserFactory, WorkspaceFactory, api_token
from tests.support.helpers import REGISTRY, free_port, own_registry_credentials, push, run, wait_for_http
from tests.support.servers import PrivateRegistry, WaveServer, start_server, start_worker, stop_server
from tests.support.waiting import APP_NAME, POOL


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fault tests restart the stack's stores: they run after everything else."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/faults/"))


UNIT_LANE = Path(__file__).parent / "unit"


@pytest.fixture(autouse=True)
def services(request):
    """The session's service set-up, for every test outside the unit lane (tests/unit/ runs with no
    Postgres, Redis or registry: `scripts/stack unit`)."""
    if not request.node.path.is_relative_to(UNIT_LANE):
        request.getfixturevalue("clean_redis")
        request.getfixturevalue("flush_retries_a_deadlock")


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The rate limits' and throttles' clock, moved by the test instead of sleeping through a window."""
    from limits import ratelimit, throttle

    clock = Clock()
    monkeypatch.setattr(ratelimit, "clock", clock)
    monkeypatch.setattr(throttle, "clock", clock)
    return clock


@pytest.fixture
def fresh_rate_limits():
    """This test's rate-limit windows start empty (other tests count from 127.0.0.1 too)."""
    store = redis.Redis.from_url(settings.REDIS_URL)
    for key in store.scan_iter("wave:ratelimit:*"):
        store.delete(key)


@pytest.fixture(scope="session")
def clean_redis():
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def wave_server(django_db_setup, tmp_path_factory) -> WaveServer:
    server = start_server(tmp_path_factory.mktemp("wave-server") / "server.log")
    yield server
    stop_server(server)


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


@pytest.fixture(scope="session")
def build_worker(django_db_setup, tmp_path_factory):
    process = start_worker(tmp_path_factory.mktemp("worker") / "worker.log")
    yield process
    process.terminate()
    process.wait(20)


@pytest.fixture(scope="session")
def conda_channel(tmp_path_factory) -> str:
    """The URL of a channel of real test packages (see tests/support/conda_channel.py), served on loopback."""
    from tests.support.conda_channel import build_channel, serve

    url, server = serve(build_channel(tmp_path_factory.mktemp("conda-channel")))
    yield url
    server.shutdown()


@pytest.fixture
def db_build():
    from django.utils import timezone

    def make(build_hash: str) -> Build:
        return BuildFactory(content_hash=build_hash, status=Build.Status.RUNNING, build_repository=f"{REGISTRY}/x",
                            heartbeat_at=timezone.now(), started_at=timezone.now())

    return make


@pytest.fixture
def isolated_worker(settings, tmp_path):
    """A worker of the test's own, on a queue no other worker takes builds from."""
    settings.WAVE_BUILD_QUEUE = "isolated"
    settings.WAVE_BUILD_HEARTBEAT_TIMEOUT = 6
    workers = []

    def start(**env: str) -> subprocess.Popen:
        workers.append(start_worker(tmp_path / "worker.log", queue="isolated", **env))
        return workers[-1]

    yield start
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


@pytest.fixture(scope="module")
def named_server(django_db_setup, tmp_path_factory):
    """A server whose database sessions carry a name of their own (libpq's PGAPPNAME), to count them."""
    server = start_server(tmp_path_factory.mktemp("waiting") / "server.log", PGAPPNAME=APP_NAME, DATABASE_POOL_SIZE=str(POOL))
    yield server
    stop_server(server)
