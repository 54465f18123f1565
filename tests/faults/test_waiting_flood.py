"""A workflow starting hundreds of tasks on an image still building: 200 pulls wait on it while 200
other container requests arrive at once; nothing fails, and the database pool is never exceeded."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from builds.models import Build
from tests.support.helpers import ACCEPT, manifest_url, wait_until
from tests.support.waiting import POOL, server_connections, start_build, subscribers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PULLS = REQUESTS = 200


class Sampler(threading.Thread):
    """The server's open database connections, sampled until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[int] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            self.samples.append(server_connections())

    def stop(self) -> list[int]:
        self._stop_event.set()
        self.join()
        return self.samples


def test_200_waiting_pulls_and_200_container_requests_get_no_5xx(named_server, build_worker, registry, busybox):
    body = start_build(named_server, registry, "sleep 30")
    url = manifest_url(named_server, body["targetImage"])
    sampler = Sampler()
    sampler.start()

    async def scenario():
        limits = httpx.Limits(max_connections=PULLS + REQUESTS)
        async with httpx.AsyncClient(timeout=180, limits=limits) as client:
            async def pull():
                answer = await client.get(url, headers=ACCEPT)
                return answer, time.time()

            pulls = [asyncio.create_task(pull()) for _ in range(PULLS)]
            await asyncio.to_thread(wait_until, lambda: subscribers() >= 1, 30, 0.1)
            requests = await asyncio.gather(*(
                client.post(f"{named_server.url}/v1alpha2/container", json={"containerImage": busybox}) for _ in range(REQUESTS)
            ))
            return requests, await asyncio.wait_for(asyncio.gather(*pulls), 150)

    try:
        requests, pulls = asyncio.run(scenario())
    finally:
        samples = sampler.stop()
    assert [r.status_code for r in requests] == [200] * REQUESTS, {r.status_code: r.text[:200] for r in requests}
    build = Build.objects.get(pk=body["buildId"])
    assert build.status == Build.Status.SUCCEEDED
    assert {(p.status_code, p.headers.get("Docker-Content-Digest")) for p, _ in pulls} == {(200, build.digest)}
    # Every pull was answered once the build had ended, none before (the clocks are the same machine's).
    assert min(at for _, at in pulls) >= build.finished_at.timestamp() - 0.05
    assert samples and max(samples) <= POOL, samples
