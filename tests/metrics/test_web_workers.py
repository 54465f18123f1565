"""Several web processes behind one port (WAVE_WEB_WORKERS): /metrics sums what every one counted.

Each process writes its metrics to files of its own in PROMETHEUS_MULTIPROC_DIR (`<kind>_<pid>.db`);
reading one file at a time tells which process served how many requests.
"""

from __future__ import annotations

import base64
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import Permission
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from builds.models import Build
from tests.support.factories import BuildFactory, UserFactory
from tests.support.helpers import wait_until
from tests.support.servers import start_server, stop_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REQUESTS = 200
SERVED = ("service-info", "GET", "200")  # wave_request_duration_seconds labels of the requests sent


@pytest.fixture
def two_processes(django_db_setup, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    server = start_server(tmp_path / "server.log", workers=2, PROMETHEUS_MULTIPROC_DIR=str(folder))
    server.metrics_folder = folder
    try:
        wait_until(lambda: len(web_pids(server)) == 2, 30)
        yield server
    finally:
        stop_server(server)


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def web_pids(server) -> set[int]:
    """The supervisor's children that made metrics files (each writes its gauges at import)."""
    made = {int(f.stem.rsplit("_", 1)[1]) for f in server.metrics_folder.glob("gauge_livesum_*.db")}
    return made & children(server.process.pid)


def served(samples, labels=SERVED) -> float:
    return sum(
        s.value for s in samples
        if s.name == "wave_request_duration_seconds_count" and (s.labels.get("route"), s.labels.get("method"), s.labels.get("status")) == labels
    )


def served_by_each(folder: Path) -> dict[int, float]:
    """Requests counted by each process, from its own file alone."""
    return {
        int(f.stem.rsplit("_", 1)[1]): served(s for m in MultiProcessCollector.merge([str(f)]) for s in m.samples)
        for f in folder.glob("histogram_*.db")
    }


def scrape(server) -> list:
    reader = UserFactory(username="workers-reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_usage_metrics"))
    auth = {"Authorization": "Basic " + base64.b64encode(b"workers-reader:password").decode()}
    response = httpx.get(f"{server.url}/metrics", headers=auth, timeout=30)
    assert response.status_code == 200, response.text
    return [s for family in text_string_to_metric_families(response.text) for s in family.samples]


def test_metrics_sum_the_requests_every_web_process_served(two_processes):
    def get(_):  # a connection of its own each time: the kernel hands each to whichever process accepts first
        return httpx.get(f"{two_processes.url}/service-info", timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(get, range(REQUESTS))) == [200] * REQUESTS

    by_process = served_by_each(two_processes.metrics_folder)
    assert set(by_process) == web_pids(two_processes)
    assert all(count > 0 for count in by_process.values()), by_process  # both served some
    # One more: start_server's readiness probe (a GET /service-info).
    assert served(scrape(two_processes)) == REQUESTS + 1 == sum(by_process.values())


def test_the_builds_collector_is_read_once_not_once_per_process(two_processes):
    for _ in range(3):
        BuildFactory(status=Build.Status.SUCCEEDED)
    samples = scrape(two_processes)
    succeeded = [s.value for s in samples if s.name == "wave_builds_total" and s.labels == {"status": "SUCCEEDED"}]
    assert succeeded == [Build.objects.filter(status=Build.Status.SUCCEEDED, from_registry=False).count()]


def test_a_dead_process_is_replaced_and_its_live_gauges_dropped(two_processes):
    folder = two_processes.metrics_folder
    victim = min(web_pids(two_processes))
    os.kill(victim, signal.SIGKILL)
    # uvicorn's supervisor starts another; that one drops the dead one's waiting-pull gauge at start.
    wait_until(lambda: len(web_pids(two_processes) - {victim}) == 2, 60)
    wait_until(lambda: not (folder / f"gauge_livesum_{victim}.db").exists(), 60)
    assert httpx.get(f"{two_processes.url}/service-info", timeout=30).status_code == 200
