"""Bounded requests against the service as it runs (uvicorn in its own process): the review's gzip
bomb costs the web process little memory, large valid bodies pass, oversized ones get JSON."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import time

import httpx
import pytest

from oci.layer import LayerBuilder
from tests.support.bombs import gzip_bomb
from tests.support.servers import start_server, stop_server

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1 << 20


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """A server of its own, so that its peak memory is this module's alone."""
    server = start_server(tmp_path_factory.mktemp("bounded") / "server.log")
    yield server
    stop_server(server)


def layer_request(image: str, blob: bytes, tar_digest: str) -> dict:
    location = "data:" + base64.b64encode(blob).decode()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    layer = {"location": location, "gzipDigest": digest, "gzipSize": len(blob), "tarDigest": tar_digest}
    return {"containerImage": image, "containerConfig": {"layers": [layer]}}


def test_a_gzip_bomb_of_2_4_mb_is_refused_with_the_web_process_growing_less_than_32_mib(server, busybox):
    small = LayerBuilder().add_file("warm.txt", b"warm up\n").build()
    warm = httpx.post(f"{server.url}/v1alpha2/container", json=layer_request(busybox, small.gzip, small.tar_digest), timeout=60)
    assert warm.status_code == 200, warm.text  # imports, pools and caches are loaded before measuring
    bomb = gzip_bomb(2400)  # 2.4 MB of gzip, 2,400 MiB of zeros
    assert 2_300_000 < len(bomb) < 2_600_000
    before = server.rss_kib()
    started = time.perf_counter()
    response = httpx.post(f"{server.url}/v1alpha2/container", json=layer_request(busybox, bomb, "sha256:" + "0" * 64), timeout=60)
    elapsed = time.perf_counter() - started
    assert response.status_code == 400
    assert response.json() == {"message": "Layer 0: the content inflates more than 100 times its compressed size (a gzip bomb?)"}
    growth = (server.peak_rss_kib() - before) / 1024
    print(f"bomb refused in {elapsed * 1000:.0f} ms; web process peak RSS {growth:+.1f} MiB over its RSS before")
    assert growth < 32, f"the web process grew by {growth:.1f} MiB"


def test_a_nine_mib_layer_is_accepted_over_http(server, busybox):
    layer = LayerBuilder().add_file("opt/big.bin", os.urandom(9 * MIB)).build()
    body = layer_request(busybox, layer.gzip, layer.tar_digest)
    response = httpx.post(f"{server.url}/v1alpha2/container", json=body, timeout=120)
    assert response.status_code == 200, response.text[:300]


@pytest.mark.parametrize("path", ["/v1alpha2/container", "/container-token", "/v1alpha1/inspect"])
def test_a_body_over_the_limit_is_a_json_413_over_http(server, settings, path):
    body = b'{"containerImage":"' + b"x" * settings.WAVE_MAX_BODY_SIZE + b'"}'
    response = httpx.post(f"{server.url}{path}", content=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json()["message"] == (
        f"The request body is {len(body)} bytes; at most {settings.WAVE_MAX_BODY_SIZE} bytes are accepted (WAVE_MAX_BODY_SIZE)"
    )


def test_a_body_declared_too_large_is_refused_before_it_is_sent(server, settings):
    """Only the headers go out: without the check, the server would wait for 10 GB that never come."""
    declared = 10 * 1024**3
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(
            f"POST /v1alpha2/container HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body) == {
        "message": f"The request body is {declared} bytes; at most {settings.WAVE_MAX_BODY_SIZE} bytes are accepted (WAVE_MAX_BODY_SIZE)"
    }
