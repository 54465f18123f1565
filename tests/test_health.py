"""/healthz and /readyz: the process answers whatever its stores do; readiness names the store that is
down and why, without its password, and a store that hangs does not hang the probe."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
from django.conf import settings

from tests.support.helpers import free_port
from tests.support.servers import start_server, stop_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server_with(django_db_setup, tmp_path):
    started = []

    def start(**env: str):
        started.append(start_server(tmp_path / f"server-{len(started)}.log", **env))
        return started[-1]

    yield start
    for server in started:
        stop_server(server)


def probe(server, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", timeout=30)


def test_readyz_reports_every_store_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"postgres": "ok", "redis": "ok", "registry": "ok", "store": "ok"}}
    assert client.get("/healthz").json() == {"alive": True}


def test_readyz_names_redis_when_it_is_unreachable_and_keeps_its_password(server_with):
    closed = free_port()
    server = server_with(REDIS_URL=f"redis://wave:not-for-your-eyes@127.0.0.1:{closed}/15")
    response = probe(server, "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["postgres"] == "ok" and body["checks"]["registry"] == "ok"
    assert body["checks"]["redis"].startswith(f"down: Error 111 connecting to 127.0.0.1:{closed}"), body
    assert "not-for-your-eyes" not in response.text
    assert "not-for-your-eyes" not in server.log.read_text()
    alive = probe(server, "/healthz")
    assert alive.status_code == 200 and alive.json() == {"alive": True}


def test_readyz_names_postgres_when_it_is_unreachable(server_with):
    db = settings.DATABASES["default"]
    closed = free_port()
    server = server_with(DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@127.0.0.1:{closed}/{db['NAME']}")
    response = probe(server, "/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"] == "ok" and checks["registry"] == "ok"
    assert checks["postgres"].startswith("down: connection failed: ") and f"port {closed} failed: Connection refused" in checks["postgres"]
    assert db["PASSWORD"] not in response.text
    assert probe(server, "/healthz").status_code == 200  # alive: no store is touched


def test_readyz_names_the_object_store_when_it_is_unreachable(server_with):
    closed = free_port()
    server = server_with(WAVE_STORAGE_URL=f"s3://wave?endpoint=http://127.0.0.1:{closed}&region=us-east-1")
    response = probe(server, "/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgres"] == checks["redis"] == checks["registry"] == "ok"
    assert checks["store"].startswith(f"down: the object store http://127.0.0.1:{closed} (bucket wave)"), checks
    assert settings.WAVE_STORAGE_SECRET_KEY not in response.text


@pytest.fixture
def silent_store():
    """A port that accepts connections and never answers: a frozen store."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_frozen_redis_and_a_registry_refusing_the_login_fail_their_lines_only(server_with, silent_store):
    registry = settings.WAVE_DEFAULT_REGISTRY
    server = server_with(
        REDIS_URL=f"redis://127.0.0.1:{silent_store}/15",
        WAVE_REGISTRY_CREDENTIALS=f"{registry}=wave:wrong-password",
    )
    response = probe(server, "/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgres"] == "ok"
    assert checks["redis"] == "down: Timeout reading from socket", checks
    assert checks["registry"] == f"down: {registry} refused the service's login (401)"
    assert "wrong-password" not in response.text


def test_a_registry_that_is_down_is_named(server_with):
    closed = free_port()
    server = server_with(WAVE_DEFAULT_REGISTRY=f"localhost:{closed}")
    checks = probe(server, "/readyz").json()["checks"]
    assert checks["postgres"] == "ok" and checks["redis"] == "ok"
    assert checks["registry"].startswith("down: ") and "Connect" in checks["registry"], checks


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_other_methods_get_a_json_405(client, path):
    response = client.post(path)
    assert response.status_code == 405
    assert response.json() == {"message": f"Method 'POST' is not allowed on {path}: use GET"}
