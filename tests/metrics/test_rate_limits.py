"""Rate limits: 429 with Retry-After on the API and TOOMANYREQUESTS on /v2/, reset after the window."""

from __future__ import annotations

import httpx
import pytest

from tests.support.factories import api_token
from tests.support.helpers import dockerfile, post
from tests.support.servers import start_server, stop_server

pytestmark = pytest.mark.django_db

FOREVER = 10**9  # seconds: a window no test outlives


def test_anonymous_container_requests_are_limited_per_ip_and_reset(api, busybox, settings, clock):
    settings.WAVE_RATE_LIMIT_PULLS_ANONYMOUS = "3/3"
    statuses = [post(api, "/v1alpha2/container", {"containerImage": busybox}).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = post(api, "/v1alpha2/container", {"containerImage": busybox})
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3
    assert refused.json()["message"].startswith("Rate limit exceeded: 3 pulls 3 seconds for client 127.0.0.1 without an access token")
    clock.advance(3)
    assert post(api, "/v1alpha2/container", {"containerImage": busybox}).status_code == 200


def test_builds_are_limited_per_user_and_a_shared_build_does_not_count(api, owner, settings):
    settings.WAVE_RATE_LIMIT_BUILDS_USER = "2/3600"
    token = api_token(owner)
    first = {"containerFile": dockerfile(), "towerAccessToken": token}
    assert post(api, "/v1alpha2/container", first).status_code == 200
    assert post(api, "/v1alpha2/container", first).status_code == 200  # the same build again: shared, not new
    assert post(api, "/v1alpha2/container", {"containerFile": dockerfile(), "towerAccessToken": token}).status_code == 200
    refused = post(api, "/v1alpha2/container", {"containerFile": dockerfile(), "towerAccessToken": token})
    assert refused.status_code == 429
    assert refused.json()["message"].startswith("Rate limit exceeded: 2 builds an hour for this user")
    other = post(api, "/v1alpha2/container", {"containerFile": dockerfile()})  # anonymous: a budget of its own
    assert other.status_code == 200


def test_a_trusted_proxy_forwards_the_client_ip(api, busybox, settings):
    settings.WAVE_RATE_LIMIT_PULLS_ANONYMOUS = "1/3600"
    settings.WAVE_TRUSTED_PROXIES = ["127.0.0.1"]
    for client in ("203.0.113.7", "203.0.113.8"):
        response = api.post("/v1alpha2/container", {"containerImage": busybox}, format="json", HTTP_X_FORWARDED_FOR=client)
        assert response.status_code == 200
    refused = api.post("/v1alpha2/container", {"containerImage": busybox}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert refused.status_code == 429 and "client 203.0.113.7" in refused.json()["message"]


def test_an_untrusted_forwarded_header_is_ignored(api, busybox, settings):
    settings.WAVE_RATE_LIMIT_PULLS_ANONYMOUS = "1/3600"
    settings.WAVE_TRUSTED_PROXIES = []
    assert api.post("/v1alpha2/container", {"containerImage": busybox}, format="json", HTTP_X_FORWARDED_FOR="198.51.100.1", REMOTE_ADDR="127.0.0.9").status_code == 200
    refused = api.post("/v1alpha2/container", {"containerImage": busybox}, format="json", HTTP_X_FORWARDED_FOR="198.51.100.2", REMOTE_ADDR="127.0.0.9")
    assert refused.status_code == 429 and "client 127.0.0.9" in refused.json()["message"]


@pytest.mark.django_db(transaction=True)
def test_v2_manifest_pulls_are_limited_with_toomanyrequests(busybox, tmp_path, fresh_rate_limits):
    # The server is a process of its own, on the real clock: its window does not end during the test (fixed
    # windows are aligned on multiples of it); the reset after a window is the in-process test's, on a clock it moves.
    server = start_server(tmp_path / "server.log", WAVE_RATE_LIMIT_PULLS_ANONYMOUS=f"4/{FOREVER}")
    try:
        token = server.request_container({"containerImage": busybox})["containerToken"]  # one pull of four
        url = f"{server.url}/v2/wt/{token}/library/busybox/manifests/latest"
        assert [httpx.get(url).status_code for _ in range(3)] == [200, 200, 200]
        refused = httpx.get(url)
        assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= FOREVER
        error = refused.json()["errors"][0]
        assert error["code"] == "TOOMANYREQUESTS" and error["message"].startswith("Rate limit exceeded: 4 pulls")
    finally:
        stop_server(server)
