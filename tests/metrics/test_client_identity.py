"""Who the client is: the socket peer, unless that peer is a trusted proxy (WAVE_TRUSTED_PROXIES).

The attacks go through a real uvicorn started as scripts/stack starts it: a spoofed X-Forwarded-For
from an untrusted peer must not move the client into a fresh rate-limit bucket, nor into the records.
"""

from __future__ import annotations

import httpx
import pytest
from django.test import override_settings

from containers.models import ContainerRequest
from metrics.models import PullEvent
from limits.ratelimit import client_ip
from tests.support.helpers import wait_until
from tests.support.servers import start_server, stop_server

# A window that does not end during the test (fixed windows are aligned on multiples of it).
FOREVER = 10**9


def ip(remote: str, forwarded: str | None = None, trusted: tuple[str, ...] = ()) -> str | None:
    meta = {"REMOTE_ADDR": remote, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})}
    with override_settings(WAVE_TRUSTED_PROXIES=list(trusted)):
        return client_ip(meta)


def test_an_untrusted_peer_is_the_client_whatever_it_forwards():
    assert ip("127.0.0.1", "203.0.113.7") == "127.0.0.1"
    assert ip("198.51.100.4", "203.0.113.7", trusted=("127.0.0.1",)) == "198.51.100.4"


def test_the_right_most_untrusted_address_of_a_proxy_chain_is_the_client():
    trusted = ("127.0.0.1", "10.0.0.0/8")
    # The client sent a forged "6.6.6.6"; the edge proxy (10.1.2.3) appended the client it saw.
    assert ip("127.0.0.1", "6.6.6.6, 203.0.113.5, 10.1.2.3", trusted) == "203.0.113.5"
    assert ip("127.0.0.1", "203.0.113.5", trusted) == "203.0.113.5"
    # Every hop a trusted proxy: the furthest one they vouch for.
    assert ip("127.0.0.1", "10.0.0.9, 10.1.2.3", trusted) == "10.0.0.9"
    # Something no proxy writes stops the walk at the last address a trusted proxy vouched for.
    assert ip("127.0.0.1", "203.0.113.5, not-an-ip, 10.1.2.3", trusted) == "10.1.2.3"
    assert ip("127.0.0.1", "", trusted) == "127.0.0.1"
    assert ip("127.0.0.1", None, trusted) == "127.0.0.1"


def test_an_ipv4_peer_on_a_dual_stack_socket_is_the_same_client():
    assert ip("::ffff:127.0.0.1", "203.0.113.5", trusted=("127.0.0.1",)) == "203.0.113.5"
    assert ip("::ffff:198.51.100.4") == "198.51.100.4"


def test_a_trusted_proxy_entry_that_is_not_an_address_stops_the_start():
    from django.core.exceptions import ImproperlyConfigured

    from limits.ratelimit import _networks

    with pytest.raises(ImproperlyConfigured, match="WAVE_TRUSTED_PROXIES: .*'proxy.example'"):
        _networks(("10.0.0.0/8", "proxy.example"))


@pytest.mark.django_db(transaction=True)
def test_a_spoofed_forwarded_header_from_an_untrusted_peer_changes_nothing(busybox, tmp_path, fresh_rate_limits):
    server = start_server(tmp_path / "server.log", WAVE_RATE_LIMIT_PULLS_ANONYMOUS=f"3/{FOREVER}")
    try:
        url, body = f"{server.url}/v1alpha2/container", {"containerImage": busybox}
        answers = [httpx.post(url, json=body, headers={"X-Forwarded-For": f"198.51.100.{i}"}, timeout=60) for i in range(1, 5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert "for client 127.0.0.1 without an access token" in answers[3].json()["message"]
        tokens = [a.json()["containerToken"] for a in answers[:3]]
        assert set(ContainerRequest.objects.filter(token__in=tokens).values_list("ip_address", flat=True)) == {"127.0.0.1"}
        # The pull path reads the client the same way: its pull counts and its pull record.
        pulled = httpx.get(f"{server.url}/v2/wt/{tokens[0]}/library/busybox/manifests/latest", headers={"X-Forwarded-For": "198.51.100.9"})
        assert pulled.status_code == 429 and "client 127.0.0.1" in pulled.json()["errors"][0]["message"]
    finally:
        stop_server(server)


@pytest.mark.django_db(transaction=True)
def test_a_trusted_proxys_forwarded_client_is_believed(busybox, tmp_path, fresh_rate_limits):
    server = start_server(tmp_path / "server.log", WAVE_TRUSTED_PROXIES="127.0.0.1", WAVE_RATE_LIMIT_PULLS_ANONYMOUS=f"2/{FOREVER}")
    try:
        def request(forwarded: str) -> httpx.Response:
            return httpx.post(f"{server.url}/v1alpha2/container", json={"containerImage": busybox},
                              headers={"X-Forwarded-For": forwarded}, timeout=60)

        first, second = request("203.0.113.7"), request("203.0.113.8")
        assert first.status_code == second.status_code == 200
        token = first.json()["containerToken"]
        assert ContainerRequest.objects.get(token=token).ip_address == "203.0.113.7"
        pull = httpx.get(f"{server.url}/v2/wt/{token}/library/busybox/manifests/latest", headers={"X-Forwarded-For": "203.0.113.7"})
        assert pull.status_code == 200
        assert wait_until(lambda: PullEvent.objects.filter(token=token).first(), 30).ip_address == "203.0.113.7"
        # 203.0.113.7 has had its two; a forged left-most entry does not make it someone else.
        refused = request("6.6.6.6, 203.0.113.7")
        assert refused.status_code == 429 and "for client 203.0.113.7 without" in refused.json()["message"]
        assert request("6.6.6.6, 203.0.113.8").status_code == 200
    finally:
        stop_server(server)
