"""The local registry goes away: while a build pushes to it, and while clients pull through the proxy."""

from __future__ import annotations

import subprocess

import httpx
import pytest
from django.conf import settings as django_settings

from builds.models import Build
from tests.support.helpers import ACCEPT, b64, manifest_url, post, registry_auth, run, unique, wait_until
from tests.support.servers import start_server, stop_server
from tests.support.stores import registry_stopped, restart_registry


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def building(api, registry, seconds: int) -> tuple[str, dict]:
    """Request a build whose RUN step sleeps `seconds`; its id and request once the step runs (the
    base image has been pulled: what the registry does next only matters to the push)."""
    marker = unique()
    step = f"sleep {seconds}; echo {marker}"  # the shell stays (it would exec a last `sleep`): pgrep finds it
    request = {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN {step}\n")}
    body = post(api, "/v1alpha2/container", request).json()
    wait_until(lambda: subprocess.run(["pgrep", "-f", step], capture_output=True).returncode == 0, timeout=90, every=0.1)
    return body["buildId"], request


def ended(build_id: str, timeout: float) -> Build:
    wait_until(lambda: Build.objects.get(pk=build_id).completed, timeout=timeout, every=0.5)
    return Build.objects.get(pk=build_id)


def in_registry(build: Build) -> str:
    """The digest the registry holds under the build's target tag."""
    repository, tag = build.target_image.rsplit(":", 1)
    host, path = repository.split("/", 1)
    answer = httpx.get(f"http://{host}/v2/{path}/manifests/{tag}", headers=ACCEPT, auth=registry_auth(host))
    return answer.headers.get("Docker-Content-Digest", f"{answer.status_code}")


def test_a_registry_restarting_during_the_push_is_waited_for(api, registry, isolated_worker):
    isolated_worker()
    build_id, _ = building(api, registry, 5)
    restart_registry(10)  # down from the RUN step until after the push has failed (it tries 4 times, 5 s apart)
    build = ended(build_id, timeout=90)
    assert build.status == Build.Status.SUCCEEDED, build.reason
    assert "retrying in 5s" in build.log and f"{django_settings.WAVE_DEFAULT_REGISTRY}" in build.log
    assert in_registry(build) == build.digest


def test_a_registry_down_past_the_retries_fails_the_build_with_its_reason_and_the_next_build_succeeds(api, registry, isolated_worker):
    isolated_worker()
    build_id, request = building(api, registry, 3)
    with registry_stopped():
        build = ended(build_id, timeout=60)
    assert build.status == Build.Status.FAILED
    assert build.reason.startswith(f"Registry '{registry}' could not be reached (connection refused): Error: pushing image"), build.reason

    # The registry is back: the same request builds again (the failed build is not shared) and pushes.
    again = post(api, "/v1alpha2/container", request).json()
    assert again["buildId"] != build_id
    retried = ended(again["buildId"], timeout=90)
    assert retried.status == Build.Status.SUCCEEDED, retried.reason
    assert in_registry(retried) == retried.digest


def test_a_push_retried_past_the_build_timeout_ends_at_the_timeout(api, registry, isolated_worker, settings):
    settings.WAVE_BUILD_TIMEOUT = 10  # recorded on the build when it is requested; the push retries for 15 s
    isolated_worker()
    build_id, _ = building(api, registry, 2)
    with registry_stopped():
        build = ended(build_id, timeout=60)
    assert build.status == Build.Status.FAILED
    assert build.reason == "The build timed out after 10 seconds and was stopped", build.log[-3000:]
    assert (build.finished_at - build.started_at).total_seconds() < 10 + 5


@pytest.fixture
def pooling_server(django_db_setup, tmp_path):
    """A server that keeps its upstream clients (and their open connections) across the outage,
    as a production one does; the suite's others make a new client per request."""
    server = start_server(tmp_path / "server.log", WAVE_UPSTREAM_CLIENT_TTL="3600")
    yield server
    stop_server(server)


def test_pulls_while_the_registry_is_down_get_a_registry_error_and_work_again_after(pooling_server, busybox, tmp_path):
    token = pooling_server.request_container({"containerImage": busybox})["targetImage"]
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{token}", f"oci:{tmp_path / 'before'}:latest")
    manifest = httpx.get(manifest_url(pooling_server, token), headers=ACCEPT).json()
    layer = manifest["layers"][0]["digest"]
    blob = manifest_url(pooling_server, token).replace(f"/manifests/{token.rsplit(':', 1)[1]}", f"/blobs/{layer}")
    fresh = pooling_server.request_container({"containerImage": busybox, "containerConfig": {"env": [f"FRESH={unique()}"]}})["targetImage"]

    with registry_stopped():
        cached = httpx.get(manifest_url(pooling_server, token), headers=ACCEPT)
        answers = [httpx.get(blob), httpx.head(blob), httpx.get(manifest_url(pooling_server, fresh), headers=ACCEPT)]
    assert cached.status_code == 200  # resolved manifests are answered from Redis
    for answer in answers:
        assert answer.status_code == 502, answer.text
        if answer.request.method == "GET":
            [error] = answer.json()["errors"]
            assert error["code"] == "UNAVAILABLE" and error["message"].startswith(f"Registry '{busybox.split('/')[0]}' is unreachable: ")

    # Back: the pooled connections the outage closed are not reused, not one request fails.
    for _ in range(5):
        again = httpx.get(blob)
        assert again.status_code == 200 and again.headers["Docker-Content-Digest"] == layer
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{fresh}", f"oci:{tmp_path / 'after'}:latest")
