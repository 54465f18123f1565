"""Hosts named by requests pass the SSRF guard: image registries, build repositories, layer URLs."""

import base64

import pytest

from tests.conftest import REGISTRY, free_port, post

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
