"""Builds carry on through a Postgres restart and a Redis restart: only a worker really gone fails its build.

These restart the stack's own stores, so they run last (see `pytest_collection_modifyitems`).
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import Build
from builds.retry import LOST, reconnect
from tests.support.builds import horses_of, running_build
from tests.support.helpers import b64, post, unique, wait_until
from tests.support.stores import restart_postgres, restart_redis


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def stored(build_id: str) -> Build | None:
    """The build as stored, read through a fresh connection when a restart cut this process's own."""
    try:
        return Build.objects.get(pk=build_id)
    except LOST:
        reconnect()
        return None


def finished(build_id: str) -> Build:
    return wait_until(lambda: (b := stored(build_id)) and b.status in (Build.Status.SUCCEEDED, Build.Status.FAILED) and b, timeout=180)


def ticking_build(api, registry, ticks: int) -> tuple[str, str]:
    """A build whose RUN step prints a line a second; returns its id and marker once three are logged."""
    marker = unique()
    dockerfile = f"FROM {registry}/library/busybox\nRUN for i in $(seq 1 {ticks}); do echo tick-{marker}-$i; sleep 1; done\n"
    build_id = post(api, "/v1alpha2/container", {"containerFile": b64(dockerfile)}).json()["buildId"]
    wait_until(lambda: f"tick-{marker}-3\n" in stored(build_id).log, timeout=90)
    return build_id, marker


def assert_succeeded_with_every_line(build: Build, marker: str, ticks: int, worker_log) -> None:
    assert build.status == Build.Status.SUCCEEDED, f"{build.reason}\n{worker_log.read_text()[-3000:]}"
    lines = [line for line in build.log.splitlines() if line.startswith(f"tick-{marker}-")]
    assert lines == [f"tick-{marker}-{i}" for i in range(1, ticks + 1)]


def test_a_build_carries_on_through_a_postgres_restart(api, registry, isolated_worker, tmp_path):  # noqa: F811
    isolated_worker()
    build_id, marker = ticking_build(api, registry, ticks=25)
    restart_postgres(down=5)
    back = timezone.now()

    build = finished(build_id)
    assert_succeeded_with_every_line(build, marker, 25, tmp_path / "worker.log")
    assert build.heartbeat_at > back, "the heartbeat stopped at the restart"
    assert build.log.rstrip().endswith(f"@{build.digest}")


def test_a_horse_forked_after_the_worker_used_the_database_reconnects_after_a_restart(api, registry, isolated_worker, tmp_path):  # noqa: F811
    """The worker's own queries (here: failing the build of a killed horse) open its connection pool;
    a horse forked after that used to inherit the pool without the threads that refill it, so after a
    restart it never got a connection again and its build failed for want of a heartbeat."""
    worker = isolated_worker()
    killed = running_build(api, registry, unique())
    for horse in horses_of(worker):
        os.kill(horse, signal.SIGKILL)
    wait_until(lambda: (b := stored(killed)) and b.status == Build.Status.FAILED, timeout=30)

    build_id, marker = ticking_build(api, registry, ticks=25)
    restart_postgres(down=5)
    assert_succeeded_with_every_line(finished(build_id), marker, 25, tmp_path / "worker.log")


def test_a_build_carries_on_through_a_redis_restart(api, registry, isolated_worker, tmp_path):  # noqa: F811
    worker = isolated_worker()
    build_id, marker = ticking_build(api, registry, ticks=40)
    # Down across the worker's first job heartbeat to Redis, 30 s into the job: RQ quits on its failure.
    started = stored(build_id).started_at
    wait_until(lambda: timezone.now() > started + timedelta(seconds=26), timeout=60)
    restart_redis(down=6)

    assert_succeeded_with_every_line(finished(build_id), marker, 40, tmp_path / "worker.log")
    assert worker.poll() is None, "the worker quit"
    # It still takes builds from the restarted Redis.
    after = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN echo {unique()}\n")}).json()
    assert finished(after["buildId"]).status == Build.Status.SUCCEEDED
