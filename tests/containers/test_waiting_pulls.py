"""Pulls waiting for a build cost nothing: no thread, no database connection, woken when it ends."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from builds.models import Build
from tests.support.helpers import ACCEPT, manifest_url, wait_until
from tests.support.waiting import POOL, server_connections, start_build, subscribers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

def test_fifty_waiting_pulls_hold_no_connection_and_other_requests_go_on(named_server, build_worker, registry, busybox):
    body = start_build(named_server, registry, "sleep 20")
    url = manifest_url(named_server, body["targetImage"])
    peak = [server_connections()]

    async def scenario():
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200)) as client:
            pulls = [asyncio.create_task(client.get(url, headers=ACCEPT)) for _ in range(50)]
            await asyncio.sleep(2)  # the pulls are waiting now

            async def request():
                started = time.monotonic()
                answer = await client.post(f"{named_server.url}/v1alpha2/container", json={"containerImage": busybox})
                peak.append(await asyncio.to_thread(server_connections))
                return answer.status_code, time.monotonic() - started

            others = await asyncio.gather(*(request() for _ in range(30)))
            early = sum(pull.done() for pull in pulls)
            return others, early, await asyncio.wait_for(asyncio.gather(*pulls, return_exceptions=True), 120)

    others, early, pulls = asyncio.run(scenario())
    assert [status for status, _ in others] == [200] * 30
    assert early == 0, "pulls answered before the build ended"
    assert max(seconds for _, seconds in others) < 5, others
    assert max(peak) <= POOL, peak
    build = Build.objects.get(pk=body["buildId"])
    assert build.status == Build.Status.SUCCEEDED
    assert {(p.status_code, p.headers["Docker-Content-Digest"]) for p in pulls} == {(200, build.digest)}


def test_a_failed_build_wakes_its_waiters_at_once_with_the_reason(wave_server, build_worker, registry):
    body = start_build(wave_server, registry, "sleep 3 && exit 3")
    url = manifest_url(wave_server, body["targetImage"])

    async def pulls():
        async with httpx.AsyncClient(timeout=60) as client:
            answers = await asyncio.gather(*(client.get(url, headers=ACCEPT) for _ in range(5)))
            return answers, time.time()

    answers, answered_at = asyncio.run(pulls())
    build = Build.objects.get(pk=body["buildId"])
    assert build.status == Build.Status.FAILED
    # Woken by the message, not by the 5 s re-read of the key.
    assert answered_at - build.finished_at.timestamp() < 2
    logs = f"{wave_server.url}/v1alpha1/builds/{build.id}/logs"
    expected = f"The build of this image failed ({build.reason}); its log: {logs}"
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json()["errors"] == [{"code": "MANIFEST_UNKNOWN", "message": expected, "detail": None}]


def test_a_client_that_goes_away_frees_its_waiter(wave_server, build_worker, registry):
    body = start_build(wave_server, registry, "sleep 15")
    path = urlsplit(manifest_url(wave_server, body["targetImage"])).path
    request = f"GET {path} HTTP/1.1\r\nHost: {wave_server.authority}\r\nAccept: {ACCEPT['Accept']}\r\n\r\n".encode()
    # Plain sockets closed by hand: the clients are surely gone. (Cancelled httpx requests promise no
    # moment their sockets close, and while one is open its pull rightly goes on waiting.)
    clients = [socket.create_connection(("127.0.0.1", wave_server.port)) for _ in range(10)]
    for client in clients:
        client.sendall(request)
    wait_until(lambda: subscribers() >= 1, timeout=10, every=0.1)
    for client in clients:
        client.close()
    # The subscription ends once its last waiter is gone, long before the build does.
    wait_until(lambda: subscribers() == 0, timeout=8, every=0.2)
    assert Build.objects.get(pk=body["buildId"]).status == Build.Status.RUNNING
