"""A build's life and what it leaves: killed workers, stopped workers, a full disk, huge logs, worker paths."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings

from builds.builders import builder_storage
from builds.logs import BuildLog
from builds.models import Build
from builds.reconcile import reap_stale_builds
from builds.storage import listed
from tests.support.builds import horses_of, running_build
from tests.support.helpers import b64, completed, post, unique, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def left_of(build_id: str, marker: str, storage: Path) -> list[str]:
    """What is left of a build: its processes, its working containers, its work folder."""
    left = [f"process {pid}" for pid in subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()]
    left += [f"container {c['containername']}" for c in listed(storage, "containers")]
    left += [f"folder {p}" for p in (Path(django_settings.WAVE_DATA_DIR) / "builds").glob(f"{build_id}-*")]
    left += [f"mount {line.split()[1]}" for line in Path("/proc/self/mounts").read_text().splitlines() if str(storage) in line]
    return left


def failed(api, build_id: str) -> Build:
    def done():
        return api.get(f"/v1alpha1/builds/{build_id}/status").json()["status"] == "COMPLETED"

    wait_until(done, timeout=30, every=0.5)
    reap_stale_builds()  # the housekeeper's round: a read only shows a dead worker's build as failed
    build = Build.objects.get(pk=build_id)
    assert build.status == Build.Status.FAILED
    return build


def test_a_sigkilled_worker_takes_its_builder_along_and_leaves_nothing_behind(api, registry, isolated_worker):
    """Only the worker is killed (as `kill -9 $(cat data/run/worker.pid)`): its horse, in a process group
    of its own, used to build on; now it dies with the worker, and the janitor removes the rest."""
    worker, marker = isolated_worker(), unique()
    build_id = running_build(api, registry, marker)
    auth = next((Path(django_settings.WAVE_DATA_DIR) / "builds").glob(f"{build_id}-*/auth.json"))
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    wait_until(lambda: not left_of(build_id, marker, builder_storage()), timeout=20, every=0.5)
    assert not auth.exists()
    assert "no heartbeat" in failed(api, build_id).reason


def test_a_killed_work_horse_fails_its_build_at_once(api, registry, isolated_worker, settings):
    settings.WAVE_BUILD_HEARTBEAT_TIMEOUT = 600  # so that only the worker itself can fail it in time
    worker, marker = isolated_worker(), unique()
    build_id = running_build(api, registry, marker)
    started = time.monotonic()
    for horse in horses_of(worker):
        os.kill(horse, signal.SIGKILL)
    build = failed(api, build_id)
    assert time.monotonic() - started < 15 and "killed by signal 9" in build.reason
    wait_until(lambda: not left_of(build_id, marker, builder_storage()), timeout=20, every=0.5)


def test_stopping_the_worker_as_stack_down_does_stops_its_build(api, registry, isolated_worker):
    worker, marker = isolated_worker(), unique()
    build_id = running_build(api, registry, marker)
    worker.send_signal(signal.SIGTERM)  # RQ's warm shutdown waits for the build ...
    time.sleep(1.5)
    worker.send_signal(signal.SIGTERM)  # ... a second TERM (cold shutdown) does not
    worker.wait(15)
    assert "was stopped" in failed(api, build_id).reason
    wait_until(lambda: not left_of(build_id, marker, builder_storage()), timeout=20, every=0.5)


@pytest.fixture
def small_disk(tmp_path):
    """A data folder whose builder storage is a 64 MB tmpfs."""
    storage = tmp_path / "data" / "buildah"
    storage.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(storage)], check=True)
    yield storage
    subprocess.run(["umount", "-l", str(storage)], check=True)


def test_a_full_disk_is_the_reason_and_does_not_fail_the_next_build(api, registry, isolated_worker, small_disk):
    isolated_worker(WAVE_DATA_DIR=str(small_disk.parent))
    fill = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN dd if=/dev/zero of=/big bs=1M count=200 # {unique()}\n")}).json()
    wait_until(lambda: Build.objects.get(pk=fill["buildId"]).finished_at, timeout=120)
    build = failed(api, fill["buildId"])
    assert "no space left on device" in build.reason.lower() and "exit status" not in build.reason
    assert "<storage>" not in build.reason and str(small_disk) not in build.log

    after = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN echo {unique()} > /x\n")}).json()
    wait_until(lambda: Build.objects.get(pk=after["buildId"]).finished_at, timeout=120)
    later = Build.objects.get(pk=after["buildId"])
    assert later.status == Build.Status.SUCCEEDED, later.log[-2000:]
    wait_until(lambda: listed(small_disk, "containers") == [], timeout=20)


def test_a_30_mb_log_keeps_its_head_and_tail_and_status_reads_stay_small(wave_server, build_worker, registry):
    marker = unique()
    dockerfile = (
        f"FROM {registry}/library/busybox\n"
        f'RUN echo head-{marker}-$((1+1)) && head -c 30000000 /dev/zero | tr "\\0" A | fold -w 1000 && echo tail-{marker}-$((2+2))\n'
    )
    body = wave_server.request_container({"containerFile": b64(dockerfile)})
    assert completed(wave_server, body["buildId"])["succeeded"] is True
    build = Build.objects.get(pk=body["buildId"])
    log = build.log
    assert len(log.encode()) <= django_settings.WAVE_BUILD_LOG_LIMIT + 1000
    assert f"head-{marker}-2" in log and f"tail-{marker}-4" in log and "of output dropped here" in log
    assert log.rstrip().endswith(f"Pushed {build.target_image}@{build.digest}")

    for path in (f"/v1alpha1/builds/{body['buildId']}/status", f"/v1alpha1/builds/{body['buildId']}", f"/v1alpha2/container/{body['containerToken']}/status"):
        started = time.monotonic()
        response = httpx.get(f"{wave_server.url}{path}")
        assert response.status_code == 200 and len(response.content) < 2000
        assert time.monotonic() - started < 0.5, path


def test_logs_and_reasons_show_no_worker_path(wave_server, build_worker, registry):
    dockerfile = f"FROM {registry}/library/busybox\nCOPY missing-{unique()}.txt /x\n"
    body = wave_server.request_container({"containerFile": b64(dockerfile)})
    assert completed(wave_server, body["buildId"])["succeeded"] is False
    build = Build.objects.get(pk=body["buildId"])
    for text in (build.log, build.reason):
        assert "data/builds" not in text and str(django_settings.WAVE_DATA_DIR) not in text and str(django_settings.BASE_DIR) not in text
    assert '"/build/context"' in build.reason  # where buildah looked, in neutral words


def test_a_log_past_its_limit_keeps_a_head_a_marker_and_a_tail(db_build):
    build = db_build("c" * 16)
    log = BuildLog(build.id, interval=0, limit=10_000)
    for number in range(2000):
        log.write(f"line {number:05d}\n")
    log.line("the end")
    Build.objects.filter(pk=build.id).update(**log.drain())
    text = Build.objects.get(pk=build.id).log
    assert text.startswith("line 00000\n") and text.endswith("line 01999\nthe end\n")
    assert len(text.encode()) <= 10_000 + 300
    assert "bytes (" in text and "lines) of output dropped here" in text


def test_the_builder_storage_is_pruned_to_its_bound(api, registry, isolated_worker, tmp_path):
    storage = tmp_path / "data" / "buildah"
    isolated_worker(WAVE_DATA_DIR=str(storage.parent), WAVE_BUILD_CACHE_SIZE="1")
    body = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN echo {unique()} > /x\n")}).json()
    wait_until(lambda: Build.objects.get(pk=body["buildId"]).status == Build.Status.SUCCEEDED, timeout=120)
    wait_until(lambda: listed(storage, "images") == [], timeout=20, every=0.5)
