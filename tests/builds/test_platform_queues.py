"""Build queues per platform: a worker takes the builds of the platforms it runs (WAVE_WORKER_PLATFORMS,
by default the machine's), and a request for a platform no worker here runs is accepted once a worker
for it has registered. Real workers (`manage.py rqworker isolated`), real Redis and buildah."""

from __future__ import annotations

import django_rq
import pytest
from rq.job import Job

from builds.models import Build
from builds.queue import job_id, live_workers
from tests.support.factories import BuildFactory
from tests.support.helpers import REGISTRY, b64, post, unique, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Today's refusal, word for word (builds/services.py `_check_emulation`).
NO_ARM64 = (
    "linux/arm64 builds with RUN steps are unavailable on this deployment: its workers cannot run linux/arm64 "
    "programs (no qemu-user emulation is registered). Conda packages need no RUN step and build for every platform"
)


def dockerfile(registry: str) -> str:
    return b64(f"FROM {registry}/library/busybox\nRUN echo {unique()} > /marker\n")


def origin(build_id: str) -> str:
    job = Job.fetch(job_id(build_id), connection=django_rq.get_connection("isolated"))
    return job.origin


def ended(build_id: str) -> Build:
    return wait_until(lambda: (b := Build.objects.get(pk=build_id)).completed and b, timeout=180)


@pytest.fixture(autouse=True)
def native_amd64(settings):
    if settings.WAVE_WORKER_PLATFORMS != ["linux/amd64"]:
        pytest.skip("written for an amd64 machine: arm64 is the foreign platform here")
    settings.WAVE_FOREIGN_RUN = "auto"


def test_an_amd64_worker_takes_amd64_builds_from_their_queue(api, registry, isolated_worker):
    isolated_worker()
    wait_until(lambda: live_workers(django_rq.get_queue("isolated-linux-amd64")), 30)
    build_id = post(api, "/v1alpha2/container", {"containerFile": dockerfile(registry)}).json()["buildId"]
    assert origin(build_id) == "isolated-linux-amd64"
    assert ended(build_id).status == Build.Status.SUCCEEDED


def test_an_arm64_build_without_an_arm64_worker_is_refused_as_before(api, registry, settings):
    settings.WAVE_BUILD_QUEUE = "idle"  # no worker ever listens on its queues
    response = post(api, "/v1alpha2/container", {"containerFile": dockerfile(registry), "containerPlatform": "linux/arm64"})
    assert response.status_code == 400 and response.json() == {"message": NO_ARM64}


def test_an_arm64_build_is_accepted_once_an_arm64_worker_registered_and_waits_in_its_queue(api, registry, isolated_worker):
    # A worker that says it runs arm64 (there is no arm64 machine here): it registers on the arm64 queue.
    worker = isolated_worker(WAVE_WORKER_PLATFORMS="linux/arm64")
    wait_until(lambda: live_workers(django_rq.get_queue("isolated-linux-arm64")), 30)
    response = post(api, "/v1alpha2/container", {"containerFile": dockerfile(registry), "containerPlatform": "linux/arm64"})
    assert response.status_code == 200, response.json()
    build_id = response.json()["buildId"]
    assert origin(build_id) == "isolated-linux-arm64"
    # That worker takes it and runs it to its end. (Here the seeded busybox has no arm64 image, so buildah
    # uses the amd64 one and the RUN step runs natively; a real arm64 base would fail with exec format error.)
    build = ended(build_id)
    assert build.started_at is not None and "linux/arm64" in build.log
    worker.terminate()  # a warm stop: it leaves RQ's registry, as a killed one would only at its key's expiry
    worker.wait(30)
    assert not live_workers(django_rq.get_queue("isolated-linux-arm64"))


def test_an_arm64_conda_build_with_no_arm64_worker_goes_to_the_local_workers(api, isolated_worker, settings):
    # No RUN step: any worker builds it (as before queues per platform), so it is not left waiting.
    settings.WAVE_BUILD_QUEUE = "idle"
    post_conda = {"packages": {"type": "CONDA", "entries": ["bwa"]}, "containerPlatform": "linux/arm64"}
    build_id = post(api, "/v1alpha2/container", post_conda).json()["buildId"]
    assert origin(build_id) == "idle-linux-amd64"
    django_rq.get_queue("idle-linux-amd64").empty()


def test_a_build_job_queued_before_the_upgrade_on_the_old_queue_still_runs(registry, isolated_worker):
    # As an upgrade finds it: the job on `isolated` itself, the name builds were queued on before.
    build = BuildFactory(container_file=f"FROM {registry}/library/busybox\nRUN echo {unique()}\n",
                         build_repository=f"{REGISTRY}/wave/builds")
    django_rq.get_queue("isolated").enqueue("builds.jobs.run_build", build.id, job_id=job_id(build.id))
    isolated_worker()
    assert ended(build.id).status == Build.Status.SUCCEEDED
