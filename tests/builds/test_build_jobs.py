"""Builds for real: an RQ worker runs buildah, pushes to the local registry, and the proxy serves it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

from builds.ended import channel, ended_key
from builds.jobs import fail_build, run_build
from builds.logs import strip_ansi
from builds.models import Build
from builds.reconcile import reap_stale_builds
from tests.support.helpers import b64, completed, post, registry_auth, run, unique, wait_until
from tests.support.images import data_layer
from tests.support.servers import start_worker
from wave_site.redis import sync_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_dockerfile_is_built_pushed_and_pulled_through_the_proxy(wave_server, build_worker, registry, tmp_path):
    marker = unique()
    # $((6*7)) is expanded by the RUN shell: "step-<marker>-42" appears only in the step's output.
    dockerfile = f"FROM {registry}/library/busybox\nRUN echo {marker} > /marker && echo step-{marker}-$((6*7))\nENV GREETING=hi\n"
    body = wave_server.request_container({"containerFile": b64(dockerfile)})
    status = completed(wave_server, body["buildId"])
    assert status["succeeded"] is True and status["duration"] > 0 and status["startTime"]
    logs = httpx.get(f"{wave_server.url}/v1alpha1/builds/{body['buildId']}/logs").text
    assert f"step-{marker}-42" in logs and "\x1b[" not in logs

    build = Build.objects.get(pk=body["buildId"])
    repository, tag = build.target_image.rsplit(":", 1)
    host, path = repository.split("/", 1)
    in_registry = httpx.get(
        f"http://{host}/v2/{path}/manifests/{tag}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, auth=registry_auth(host)
    )
    assert in_registry.status_code == 200 and in_registry.headers["Docker-Content-Digest"] == build.digest

    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{body['targetImage']}", f"oci:{tmp_path / 'built'}:latest")
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'built'}:latest", str(tmp_path / "bundle"))
    assert (tmp_path / "bundle" / "rootfs" / "marker").read_text() == f"{marker}\n"
    config = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert "GREETING=hi" in config["process"]["env"]


def test_the_same_dockerfile_builds_the_same_image_digest(wave_server, build_worker, registry):
    """`--timestamp 0`: a rebuild of the same recipe gives the same digest (reproducible by construction)."""
    dockerfile = f"FROM {registry}/library/busybox\nRUN echo {unique()} > /x\n"
    first = wave_server.request_container({"containerFile": b64(dockerfile)})
    completed(wave_server, first["buildId"])
    other_repo = wave_server.request_container({"containerFile": b64(dockerfile), "buildRepository": f"{registry}/wave/again"})
    completed(wave_server, other_repo["buildId"])
    assert Build.objects.get(pk=first["buildId"]).digest == Build.objects.get(pk=other_repo["buildId"]).digest


def test_a_failing_run_step_fails_the_build_and_its_pull(wave_server, build_worker, registry, tmp_path):
    dockerfile = f"FROM {registry}/library/busybox\nRUN echo {unique()} && exit 3\n"
    body = wave_server.request_container({"containerFile": b64(dockerfile)})
    status = completed(wave_server, body["buildId"])
    assert status["succeeded"] is False
    logs = httpx.get(f"{wave_server.url}/v1alpha1/builds/{body['buildId']}/logs").text
    assert "exit 3" in logs and "Build failed" in logs
    build = Build.objects.get(pk=body["buildId"])
    assert build.exit_status not in (None, 0) and "exit 3" in build.reason

    result = subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", f"docker://{body['targetImage']}", f"oci:{tmp_path / 'x'}:latest"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "The build of this image failed" in result.stderr and f"/v1alpha1/builds/{body['buildId']}/logs" in result.stderr

    container = httpx.get(f"{wave_server.url}/v1alpha2/container/{body['containerToken']}/status").json()
    assert container["status"] == "DONE" and container["succeeded"] is False and "exit 3" in container["reason"]


def test_ten_identical_requests_at_once_make_one_build(wave_server, build_worker, registry):
    body = {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN echo {unique()}\n")}
    barrier, answers = threading.Barrier(10), []

    def request():
        barrier.wait()
        answers.append(httpx.post(f"{wave_server.url}/v1alpha2/container", json=body, timeout=60).json())

    threads = [threading.Thread(target=request) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    build_ids = {a["buildId"] for a in answers}
    assert len(answers) == 10 and len(build_ids) == 1
    assert Build.objects.filter(content_hash=build_ids.pop()[:16]).count() == 1
    assert len({a["containerToken"] for a in answers}) == 10


def test_logs_can_be_read_while_the_build_runs_and_keep_when_each_line_came(wave_server, build_worker, registry):
    marker = unique()
    # A NUL in the output too: Postgres text cannot hold one, and the log must not stop there.
    dockerfile = (
        f"FROM {registry}/library/busybox\n"
        f"RUN printf 'nul:\\000:end\\n' && echo first-{marker}-$((1+1)) && sleep 4 && echo second-{marker}-$((2+2))\n"
    )
    body = wave_server.request_container({"containerFile": b64(dockerfile)})
    url = f"{wave_server.url}/v1alpha1/builds/{body['buildId']}"

    def first_line_while_running():
        logs = httpx.get(f"{url}/logs").text
        return f"first-{marker}-2" in logs and f"second-{marker}-4" not in logs

    wait_until(first_line_while_running, timeout=60, every=0.2)
    assert httpx.get(f"{url}/status").json()["status"] == "PENDING"
    assert completed(wave_server, body["buildId"])["succeeded"] is True
    logs = httpx.get(f"{url}/logs").text
    assert f"second-{marker}-4" in logs and "nul:\ufffd:end\n" in logs
    build = Build.objects.get(pk=body["buildId"])
    assert logs == build.log  # the marks are kept beside the log, not in it

    def time_of(line: str) -> float:  # the latest mark at or before the line's start
        start = logs.index(line)
        return [when for at, when in build.log_times if at <= start][-1]

    assert time_of(f"second-{marker}-4") - time_of(f"first-{marker}-2") >= 4  # the RUN slept 4 s between them
    assert time_of("Building ") <= time_of(f"first-{marker}-2") <= time_of("Pushed ")


def test_a_build_past_its_timeout_is_killed_and_failed(api, build_worker, registry, settings):
    settings.WAVE_BUILD_TIMEOUT = 4
    marker = unique()
    body = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN sleep 120; echo {marker}\n")}).json()
    build = wait_until(lambda: Build.objects.filter(pk=body["buildId"], status=Build.Status.FAILED).first(), timeout=60)
    assert build.reason == "The build timed out after 4 seconds and was stopped"
    assert build.log.rstrip().endswith("Build failed: The build timed out after 4 seconds and was stopped")
    assert build.duration < 30
    leftovers = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "the build's processes were not all killed"


def test_a_worker_killed_mid_build_leaves_its_build_failed(api, registry, settings, tmp_path):
    settings.WAVE_BUILD_QUEUE = "isolated"
    settings.WAVE_BUILD_HEARTBEAT_TIMEOUT = 6
    worker = start_worker(tmp_path / "worker.log", queue="isolated")
    marker = unique()
    try:
        body = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN sleep 60; echo {marker}\n")}).json()
        wait_until(lambda: Build.objects.filter(pk=body["buildId"], status=Build.Status.RUNNING).exists(), timeout=60)
        wait_until(lambda: subprocess.run(["pgrep", "-f", f"sleep 60; echo {marker}"], capture_output=True).returncode == 0, timeout=60)
        # The worker and its work horse (RQ forks one per job, in a process group of its own) die at
        # once, as when their machine goes away; the builder dies with its parent (PDEATHSIG).
        horses = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
        assert horses, "the worker has no work horse running the build"
        for pid in horses:
            os.kill(int(pid), signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

        def failed():
            status = api.get(f"/v1alpha1/builds/{body['buildId']}/status").json()
            return status if status["status"] == "COMPLETED" else None

        status = wait_until(failed, timeout=30, every=0.5)
        assert status["succeeded"] is False
        reap_stale_builds()  # the housekeeper's round: the read only showed it failed
        build = Build.objects.get(pk=body["buildId"])
        assert "no heartbeat for 6 seconds" in build.reason and build.log.rstrip().endswith(build.reason)
    finally:
        subprocess.run(["pkill", "-9", "-f", marker])


def test_freeze_bakes_the_config_into_a_pushed_image(wave_server, build_worker, registry, registry_authfile, tmp_path):
    repo = f"{registry}/frozen/{unique()}"
    config = {"env": ["FROZEN=yes"], "entrypoint": ["/bin/sh", "-c"], "cmd": ["cat /opt/added/hello.txt"], "workingDir": "/opt", "layers": [data_layer()]}
    body = wave_server.request_container({"containerImage": f"{registry}/library/busybox:latest", "containerConfig": config, "freeze": True, "buildRepository": repo})
    assert body["targetImage"].startswith(f"{repo}:") and "containerToken" not in body
    assert completed(wave_server, body["buildId"])["succeeded"] is True
    inspect = json.loads(run("skopeo", "inspect", "--config", "--tls-verify=false", "--authfile", registry_authfile, f"docker://{body['targetImage']}").stdout)
    assert "FROZEN=yes" in inspect["config"]["Env"]
    assert inspect["config"]["Entrypoint"] == ["/bin/sh", "-c"] and inspect["config"]["WorkingDir"] == "/opt"
    run("skopeo", "copy", "--src-tls-verify=false", "--src-authfile", registry_authfile, f"docker://{body['targetImage']}", f"oci:{tmp_path / 'frozen'}:latest")
    run("umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'frozen'}:latest", str(tmp_path / "bundle"))
    assert (tmp_path / "bundle" / "rootfs" / "opt" / "added" / "hello.txt").read_text() == "hello from the added layer\n"


def test_running_a_build_job_twice_builds_once(wave_server, build_worker, registry):
    body = wave_server.request_container({"containerFile": b64(f"FROM {registry}/library/busybox\nRUN echo {unique()}\n")})
    completed(wave_server, body["buildId"])
    before = Build.objects.get(pk=body["buildId"])
    run_build(body["buildId"])
    after = Build.objects.get(pk=body["buildId"])
    assert (after.log, after.finished_at, after.digest) == (before.log, before.finished_at, before.digest)


def test_a_stale_heartbeat_is_reaped_and_a_fresh_one_is_not(db_build):
    from datetime import timedelta

    from django.utils import timezone

    fresh, stale = db_build("a" * 16), db_build("b" * 16)
    Build.objects.filter(pk=stale.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert reap_stale_builds() == 1
    assert Build.objects.get(pk=stale.pk).status == Build.Status.FAILED
    assert Build.objects.get(pk=fresh.pk).status == Build.Status.RUNNING


def test_ansi_colour_codes_are_stripped():
    assert strip_ansi("\x1b[1;32mSTEP 1/2\x1b[0m: FROM x\r\n") == "STEP 1/2: FROM x\n"


def test_a_cache_repository_receives_the_build_layers(wave_server, build_worker, registry):
    cache = f"{registry}/cache/{unique()}"
    dockerfile = f"FROM {registry}/library/busybox\nRUN echo {unique()} > /cached\n"
    body = wave_server.request_container({"containerFile": b64(dockerfile), "cacheRepository": cache})
    assert completed(wave_server, body["buildId"])["succeeded"] is True
    host, path = cache.split("/", 1)
    tags = httpx.get(f"http://{host}/v2/{path}/tags/list", auth=registry_auth(host)).json()
    assert tags.get("tags"), f"nothing was pushed to the cache repository {cache}"


def ended(build_id: str) -> dict | None:
    raw = sync_redis().get(ended_key(build_id))
    return json.loads(raw) if raw else None


def heard(pubsub, seconds: float = 1.0) -> list[dict]:
    """The announcements published within `seconds` (a subscribe confirmation reads as None)."""
    deadline, out = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message:
            out.append(json.loads(message["data"]))
    return out


def test_every_way_a_build_ends_is_announced_to_waiting_pulls(db_build):
    from datetime import timedelta

    from django.utils import timezone

    pubsub = sync_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel())
    failed, stale, fresh = (db_build(unique() + "0000") for _ in range(3))
    fail_build(failed.id, "The worker running this build was stopped")
    Build.objects.filter(pk=stale.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert reap_stale_builds() >= 1
    first, second = heard(pubsub)
    assert first == ended(failed.id) == {"id": failed.id, "status": "FAILED", "reason": "The worker running this build was stopped"}
    assert second == ended(stale.id) and second["reason"].startswith("The worker running this build stopped: no heartbeat")
    assert ended(fresh.id) is None
    fail_build(failed.id, "again")  # already ended: no second announcement
    assert heard(pubsub, 0.5) == [] and ended(failed.id)["reason"] == "The worker running this build was stopped"
    pubsub.close()


def test_a_build_ended_unannounced_is_read_from_postgres_and_announced(db_build):
    from containers.build_wait import _recorded

    build = db_build(unique() + "0000")
    assert _recorded(build.id) is None
    Build.objects.filter(pk=build.pk).update(status=Build.Status.SUCCEEDED, digest="sha256:" + "0" * 64)
    assert _recorded(build.id) == ("SUCCEEDED", "") and ended(build.id)["status"] == "SUCCEEDED"


def test_a_pull_of_a_build_ended_unannounced_reads_postgres_at_the_first_look(db_build, monkeypatch):
    """Its end never reached Redis: the wait reads Postgres at its first look, not only after DB_EVERY
    seconds (made an hour here, so only the first look can answer before the minute's deadline)."""
    import asyncio

    from containers import build_wait

    monkeypatch.setattr(build_wait, "DB_EVERY", 3600.0)
    build = db_build(unique() + "0000")
    Build.objects.filter(pk=build.pk).update(status=Build.Status.SUCCEEDED, digest="sha256:" + "0" * 64)
    sync_redis().delete(ended_key(build.id))

    async def pull():
        return await build_wait.wait_for_end(build.id, time.monotonic() + 60)

    assert asyncio.run(pull()) == ("SUCCEEDED", "")
