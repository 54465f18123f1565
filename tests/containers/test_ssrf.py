"""Hosts named by requests pass the SSRF guard: image registries, build repositories, layer URLs."""

import base64
import errno
import ipaddress
import socket

import pytest

from tests.support.helpers import REGISTRY, free_port, post

pytestmark = pytest.mark.django_db

DOCKERFILE = base64.b64encode(f"FROM {REGISTRY}/library/busybox\n".encode()).decode()


def test_an_image_on_a_name_resolving_to_loopback_is_refused(api, registry):
    # The stack's registry (localhost:<its port>) is allow-listed; another port on localhost is not.
    response = post(api, "/v1alpha2/container", {"containerImage": f"localhost:{free_port()}/library/busybox:latest"})
    assert response.status_code == 400
    assert "Host 'localhost' resolves to 127.0.0.1, a loopback, private or link-local address" in response.json()["message"]


def test_a_build_repository_on_a_forbidden_host_is_refused(api):
    body = {"containerFile": DOCKERFILE, "buildRepository": "localhost:5999/stolen/builds"}
    response = post(api, "/v1alpha2/container", body)
    assert response.status_code == 400
    assert "Build repository 'localhost:5999/stolen/builds' cannot be checked" in response.json()["message"]
    assert "resolves to 127.0.0.1" in response.json()["message"]


def test_a_layer_url_on_a_forbidden_host_is_refused(api, busybox):
    layer = {"location": "http://localhost:8999/layer.tar.gz", "gzipDigest": "sha256:" + "a" * 64, "gzipSize": 10, "tarDigest": "sha256:" + "b" * 64}
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "containerConfig": {"layers": [layer]}})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Layer 0: cannot fetch 'http://localhost:8999/layer.tar.gz': Host 'localhost' resolves to 127.0.0.1")


def test_the_allow_list_comes_from_settings(api, registry, settings):
    settings.WAVE_SSRF_ALLOWLIST = []
    response = post(api, "/v1alpha2/container", {"containerImage": f"{REGISTRY}/library/busybox:latest"})
    assert response.status_code == 400 and "resolves to 127.0.0.1" in response.json()["message"]


# The review's first sweep: these forms passed the guard and the service tried to connect to them.
EMBEDDED = {"nat64": "64:ff9b::7f00:1", "6to4": "2002:7f00:1::", "ipv4-compatible": "::7f00:1",
            "siit": "::ffff:0:a9fe:a9fe", "teredo": "2001:0:808:808::f5ff:fffe", "nat64-metadata": "64:ff9b::a9fe:a9fe"}


@pytest.fixture
def no_connection_to_embedded(monkeypatch):
    """Any connection to one of EMBEDDED fails at the socket and is recorded: a guard that let one
    through fails the test without a packet leaving the machine."""
    blocked = {ipaddress.ip_address(a) for a in EMBEDDED.values()}
    attempts, real_connect = [], socket.socket.connect

    def connect(sock, address):
        if sock.family == socket.AF_INET6 and ipaddress.ip_address(address[0].split("%")[0]) in blocked:
            attempts.append(address[0])
            raise OSError(errno.ENETUNREACH, "blocked by the test")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.mark.parametrize("address", EMBEDDED.values(), ids=EMBEDDED.keys())
def test_an_image_at_an_ipv6_address_carrying_a_private_ipv4_is_refused(api, address, no_connection_to_embedded):
    image = f"[{address}]:6380/library/busybox:latest"
    response = post(api, "/v1alpha2/container", {"containerImage": image})
    assert response.status_code == 400
    assert f"resolves to {address} (carrying " in response.json()["message"]
    assert "a loopback, private or link-local address" in response.json()["message"]
    assert no_connection_to_embedded == []


@pytest.mark.parametrize("address", EMBEDDED.values(), ids=EMBEDDED.keys())
def test_a_layer_url_at_an_ipv6_address_carrying_a_private_ipv4_is_refused(api, busybox, address, no_connection_to_embedded):
    layer = {"location": f"http://[{address}]/layer.tar.gz", "gzipDigest": "sha256:" + "a" * 64, "gzipSize": 10,
             "tarDigest": "sha256:" + "b" * 64}
    response = post(api, "/v1alpha2/container", {"containerImage": busybox, "containerConfig": {"layers": [layer]}})
    assert response.status_code == 400
    assert f"resolves to {address}" in response.json()["message"]
    assert no_connection_to_embedded == []


def test_a_conda_channel_at_an_ipv6_address_carrying_a_private_ipv4_is_refused(api, no_connection_to_embedded):
    channel = f"http://[{EMBEDDED['nat64-metadata']}]/conda-forge"
    response = post(api, "/v1alpha2/container", {"packages": {"type": "CONDA", "entries": ["salmon"], "channels": [channel]}})
    assert response.status_code == 400
    assert f"resolves to {EMBEDDED['nat64-metadata']} (carrying 169.254.169.254)" in response.json()["message"]
    assert no_connection_to_embedded == []
