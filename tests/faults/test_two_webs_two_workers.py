"""Scale-out: two web processes and two workers on the same Postgres and Redis share every build."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from builds.models import Build
from builds.reconcile import reap_stale_builds
from tests.support.helpers import ACCEPT, b64, manifest_url, unique, wait_until
from tests.support.servers import start_server, start_worker, stop_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

QUEUE = "isolated"  # no worker of the session's takes these builds
HEARTBEAT_TIMEOUT = 15  # seconds: short, yet well above the 5 s beat of a busy machine's healthy worker


@pytest.fixture(scope="module")
def webs(django_db_setup, tmp_path_factory):
    folder = tmp_path_factory.mktemp("two-webs")
    env = {"WAVE_BUILD_QUEUE": QUEUE, "WAVE_BUILD_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT)}
    servers = [start_server(folder / f"web-{name}.log", **env) for name in "ab"]
    yield servers
    for server in servers:
        stop_server(server)


class Worker:
    def __init__(self, log: Path):
        self.log = log
        self.process = start_worker(log, queue=QUEUE)

    def ran(self, build_id: str) -> int:
        """How many times this worker started the build's job."""
        # RQ's "Worker x: <queue>: <job>" line; builds wait in the platform's queue under QUEUE.
        return self.log.read_text().count(f"{QUEUE}-linux-amd64: builds.jobs.run_build('{build_id}')")


@pytest.fixture
def workers(tmp_path):
    pair = [Worker(tmp_path / f"worker-{name}.log") for name in "ab"]
    yield pair
    for worker in pair:
        if worker.process.poll() is None:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait()


def dockerfile(registry: str, seconds: int) -> tuple[str, str]:
    """A Dockerfile whose RUN step sleeps, and the line its step prints once it has slept."""
    marker = unique()
    return f"FROM {registry}/library/busybox\nRUN sleep {seconds}; echo {marker}\n", marker


def status(build_id: str) -> str:
    return Build.objects.get(pk=build_id).status


def test_identical_requests_to_both_webs_make_one_build_and_a_pull_waiting_on_the_other_web_is_woken(webs, workers, registry):
    web_a, web_b = webs
    text, marker = dockerfile(registry, 8)
    request = {"containerFile": b64(text)}

    async def requests():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(client.post(f"{web.url}/v1alpha2/container", json=request) for web in webs * 10))

    answers = asyncio.run(requests())
    assert [a.status_code for a in answers] == [200] * 20
    [build_id] = {a.json()["buildId"] for a in answers}
    wait_until(lambda: status(build_id) == Build.Status.RUNNING, timeout=60, every=0.1)
    pull = httpx.get(manifest_url(web_b, answers[1].json()["targetImage"]), headers=ACCEPT, timeout=120)  # asked of web B

    build = Build.objects.get(pk=build_id)
    assert build.status == Build.Status.SUCCEEDED, build.reason
    assert pull.status_code == 200 and pull.headers["Docker-Content-Digest"] == build.digest
    assert Build.objects.filter(id__startswith=build_id.split("_")[0]).count() == 1
    assert sum(worker.ran(build_id) for worker in workers) == 1
    assert build.log.count(f"\n{marker}\n") == 1  # the step ran once


def test_builds_spread_over_both_workers_and_a_killed_worker_fails_only_its_own(webs, workers, registry, settings):
    bodies = [web.request_container({"containerFile": b64(dockerfile(registry, 40)[0])}) for web in webs]
    ids = [body["buildId"] for body in bodies]
    wait_until(lambda: all(status(i) == Build.Status.RUNNING for i in ids), timeout=60, every=0.2)
    # Each worker runs one job at a time: both builds run at once only because each took one.
    def owners():
        found = [next((w for w in workers if w.ran(i)), None) for i in ids]
        return found if None not in found else None

    owners = wait_until(owners, timeout=10)
    assert owners[0] is not owners[1]

    killed, survivor = owners  # the worker alone, as `kill -9` of its pid; its work horse dies with it
    os.kill(killed.process.pid, signal.SIGKILL)
    killed.process.wait()

    def read_through_web_a() -> bool:  # a read shows a build whose heartbeat stopped as failed
        return httpx.get(f"{webs[0].url}/v1alpha1/builds/{ids[0]}/status").json()["status"] == "COMPLETED"

    wait_until(read_through_web_a, timeout=HEARTBEAT_TIMEOUT + 30, every=1)
    settings.WAVE_BUILD_HEARTBEAT_TIMEOUT = HEARTBEAT_TIMEOUT  # the housekeeper's, as the webs'
    reap_stale_builds()  # the housekeeper's round records it
    lost = Build.objects.get(pk=ids[0])
    assert f"no heartbeat for {HEARTBEAT_TIMEOUT} seconds" in lost.reason
    assert status(ids[1]) == Build.Status.RUNNING  # the other worker goes on ...
    wait_until(lambda: status(ids[1]) != Build.Status.RUNNING, timeout=90, every=0.5)
    kept = Build.objects.get(pk=ids[1])
    assert kept.status == Build.Status.SUCCEEDED, kept.reason  # ... to the end
    assert survivor.process.poll() is None
