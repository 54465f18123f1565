"""Guessing is throttled per client IP: unknown container tokens on /v2/, and passwords on the login
page, the admin's login and the metrics API. Only failures count; past the limit every attempt from
that client is a 429 with Retry-After, the right token or password included.
"""

from __future__ import annotations

import base64
import secrets

import httpx
import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client

from tests.support.factories import UserFactory
from tests.support.helpers import free_port
from tests.support.servers import start_server, stop_server

FOREVER = 10**9  # a window that does not end during the test (windows are aligned on multiples of it)


@pytest.fixture
def fresh_windows():
    """This test's throttle windows start empty (other tests fail logins from 127.0.0.1 too)."""
    store = redis.Redis.from_url(settings.REDIS_URL)
    for key in store.scan_iter("wave:throttle:*"):
        store.delete(key)


def from_address(address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x address is this machine's loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)


@pytest.mark.django_db(transaction=True)
def test_guessing_tokens_is_refused_after_the_limit_and_other_clients_still_pull(busybox, tmp_path, fresh_windows):
    server = start_server(tmp_path / "server.log", WAVE_RATE_LIMIT_TOKEN_MISSES=f"20/{FOREVER}")
    try:
        token = server.request_container({"containerImage": busybox})["containerToken"]
        with from_address("127.0.0.1") as guesser, from_address("127.0.0.2") as other:
            answers = [guesser.get(f"{server.url}/v2/wt/{secrets.token_hex(6)}/library/busybox/manifests/latest") for _ in range(50)]
            assert [a.status_code for a in answers] == [404] * 20 + [429] * 30
            assert answers[0].json()["errors"][0]["code"] == "NAME_UNKNOWN"
            refused = answers[-1]
            assert refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
            assert refused.json()["errors"][0]["message"].startswith("Too many unknown container tokens from client 127.0.0.1: 20 in")
            assert 0 < int(refused.headers["Retry-After"]) <= FOREVER
            # A hit looks like a miss to the guesser now: the right token is refused too, blobs as well.
            good = f"{server.url}/v2/wt/{token}/library/busybox"
            assert guesser.get(f"{good}/manifests/latest").status_code == 429
            assert guesser.get(f"{good}/blobs/sha256:{'0' * 64}").status_code == 429
            # Another client, and the valid token: pulled as before.
            pulled = other.get(f"{good}/manifests/latest", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            assert pulled.status_code == 200 and pulled.headers["Docker-Content-Digest"].startswith("sha256:")
    finally:
        stop_server(server)


@pytest.mark.django_db(transaction=True)
def test_right_tokens_never_count(busybox, tmp_path, fresh_windows):
    server = start_server(tmp_path / "server.log", WAVE_RATE_LIMIT_TOKEN_MISSES=f"2/{FOREVER}")
    try:
        token = server.request_container({"containerImage": busybox})["containerToken"]
        url = f"{server.url}/v2/wt/{token}/library/busybox/manifests/latest"
        assert {httpx.get(url).status_code for _ in range(10)} == {200}
    finally:
        stop_server(server)


@pytest.mark.django_db(transaction=True)
def test_without_redis_unknown_tokens_are_not_throttled(tmp_path):
    server = start_server(tmp_path / "server.log", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
                          WAVE_RATE_LIMIT_TOKEN_MISSES=f"2/{FOREVER}")
    try:
        answers = [httpx.get(f"{server.url}/v2/wt/{secrets.token_hex(6)}/library/busybox/manifests/latest") for _ in range(5)]
        assert {a.status_code for a in answers} == {404}
    finally:
        stop_server(server)
    assert "Redis is unavailable for throttle" in server.log.read_text()


def login(client: Client, path: str, username: str, password: str, **extra):
    return client.post(path, {"username": username, "password": password, "next": "/view/builds/"}, **extra)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_wrong_passwords_lock_the_login_form_for_that_client(path, settings, fresh_windows):
    settings.WAVE_RATE_LIMIT_LOGIN_FAILURES = f"3/{FOREVER}"
    user = UserFactory(username="victim", is_staff=True)
    client = Client()
    assert [login(client, path, "victim", f"guess{i}").status_code for i in range(3)] == [200, 200, 200]  # the form again
    refused = login(client, path, "victim", "guess4")
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= FOREVER
    assert b"Too many failed logins from client 127.0.0.1: 3 in" in refused.content
    # The right password during the lockout: refused, and no session.
    right = login(client, path, "victim", "password")
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    # Another client logs in as before.
    elsewhere = Client(REMOTE_ADDR="127.0.0.3")
    assert login(elsewhere, path, "victim", "password").status_code == 302
    assert elsewhere.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_a_right_password_does_not_reset_the_count(settings, fresh_windows):
    settings.WAVE_RATE_LIMIT_LOGIN_FAILURES = f"2/{FOREVER}"
    UserFactory(username="mine")
    UserFactory(username="victim")
    client = Client()
    assert login(client, "/accounts/login/", "victim", "guess1").status_code == 200
    assert login(Client(), "/accounts/login/", "mine", "password").status_code == 302
    assert login(client, "/accounts/login/", "victim", "guess2").status_code == 200
    assert login(client, "/accounts/login/", "victim", "guess3").status_code == 429


def basic(username: str, password: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.mark.django_db
def test_metrics_basic_auth_is_throttled_with_a_json_429(settings, fresh_windows):
    settings.WAVE_RATE_LIMIT_LOGIN_FAILURES = f"3/{FOREVER}"
    reader = UserFactory(username="reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_usage_metrics"))
    client = Client()
    assert [client.get("/v1alpha2/metrics/builds", **basic("reader", f"guess{i}")).status_code for i in range(3)] == [401] * 3
    refused = client.get("/v1alpha2/metrics/builds", **basic("reader", "password"))
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= FOREVER
    assert refused.json()["message"].startswith("Too many failed logins from client 127.0.0.1: 3 in")
    # Failures anywhere count together: the login page is closed to this client too.
    assert login(client, "/accounts/login/", "reader", "password").status_code == 429
    assert Client(REMOTE_ADDR="127.0.0.3").get("/v1alpha2/metrics/builds", **basic("reader", "password")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/container-token/{}", "/v1alpha2/container/{}", "/v1alpha2/container/{}/status"])
def test_guessing_tokens_on_the_api_is_refused_after_the_limit(path, api, busybox, settings, fresh_windows):
    settings.WAVE_RATE_LIMIT_TOKEN_MISSES = f"3/{FOREVER}"
    token = api.post("/v1alpha2/container", {"containerImage": busybox}, format="json").json()["containerToken"]
    answers = [api.get(path.format(secrets.token_hex(6))) for _ in range(5)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429, 429]
    assert answers[-1].json()["message"].startswith("Too many unknown container tokens from client 127.0.0.1: 3 in")
    assert 0 < int(answers[-1]["Retry-After"]) <= FOREVER
    assert api.get(path.format(token)).status_code == 429
    assert api.get(path.format(token), REMOTE_ADDR="127.0.0.3").status_code == 200


@pytest.mark.django_db
def test_an_ipv6_client_cannot_dodge_the_throttle_by_taking_other_addresses_of_its_64(settings, fresh_windows):
    settings.WAVE_RATE_LIMIT_LOGIN_FAILURES = f"2/{FOREVER}"
    UserFactory(username="victim")
    for n, address in enumerate(["2001:db8:1:2::a", "2001:db8:1:2:ffff:ffff:ffff:ffff"]):
        assert login(Client(REMOTE_ADDR=address), "/accounts/login/", "victim", f"guess{n}").status_code == 200
    assert login(Client(REMOTE_ADDR="2001:db8:1:2::1234"), "/accounts/login/", "victim", "guess").status_code == 429
    # The next /64 is another client.
    assert login(Client(REMOTE_ADDR="2001:db8:1:3::1"), "/accounts/login/", "victim", "password").status_code == 302


def test_anonymous_rate_limits_count_an_ipv6_client_by_its_64(settings):
    from limits import ratelimit

    store = redis.Redis.from_url(settings.REDIS_URL)
    for key in store.scan_iter("wave:ratelimit:*"):
        store.delete(key)
    settings.WAVE_RATE_LIMIT_PULLS_ANONYMOUS = f"2/{FOREVER}"
    ratelimit.check("pulls", None, "2001:db8:9:9::1")
    ratelimit.check("pulls", None, "2001:db8:9:9::2")
    with pytest.raises(ratelimit.RateLimited):
        ratelimit.check("pulls", None, "2001:db8:9:9:abcd::3")
    ratelimit.check("pulls", None, "2001:db8:9:a::1")  # another /64
