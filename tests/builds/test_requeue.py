"""Builds nothing would run: a lost queue entry is queued again (or the build failed), and a build
with no worker alive says so. Real Postgres and Redis, on a queue no worker listens to."""

from __future__ import annotations

import time
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq.executions import Execution
from rq.job import Job, JobStatus

from builds.models import Build
from builds.queue import NO_WORKER, enqueue_build, job_id
from builds.requeue import REQUEUED, requeue_lost_builds
from tests.support.factories import BuildFactory
from tests.support.helpers import REGISTRY, b64, post, unique

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def idle_queue(settings):
    settings.WAVE_BUILD_QUEUE = "idle"
    settings.WAVE_BUILD_PENDING_TIMEOUT = 60
    settings.WAVE_BUILD_REQUEUE_LIMIT = 3
    queue = django_rq.get_queue("idle-linux-amd64")  # builds wait in their platform's queue
    queue.empty()
    yield queue
    queue.empty()


def pending_build(age: float = 120) -> Build:
    build_hash = unique()[:16].ljust(16, "0")
    return BuildFactory(content_hash=build_hash, build_repository=f"{REGISTRY}/x", created_at=timezone.now() - timedelta(seconds=age))


def test_a_pending_build_whose_job_was_lost_is_queued_again_once(idle_queue):
    build = pending_build()
    assert requeue_lost_builds() == 1
    assert idle_queue.job_ids == [job_id(build.id)]
    assert requeue_lost_builds() == 0  # its job waits now: not queued twice
    assert idle_queue.job_ids == [job_id(build.id)]
    assert f"{REQUEUED} (1 of 3)" in Build.objects.get(pk=build.id).log


def test_a_job_whose_queue_entry_vanished_is_queued_again(idle_queue):
    build = pending_build()
    enqueue_build(build.id)
    idle_queue.connection.lrem(idle_queue.key, 0, job_id(build.id))  # the hash stays, no worker would see it
    assert Job.exists(job_id(build.id), connection=idle_queue.connection)
    assert requeue_lost_builds() == 1
    assert idle_queue.job_ids == [job_id(build.id)]


def test_a_build_whose_job_waits_or_is_taken_is_left_alone(idle_queue):
    waiting, taken = pending_build(), pending_build()
    enqueue_build(waiting.id)
    enqueue_build(taken.id)
    # As a worker holds it: out of the list, status started (the claim not yet made).
    idle_queue.connection.lrem(idle_queue.key, 0, job_id(taken.id))
    Job.fetch(job_id(taken.id), connection=idle_queue.connection).set_status(JobStatus.STARTED)
    assert requeue_lost_builds() == 0
    assert idle_queue.job_ids == [job_id(waiting.id)]


def test_a_job_taken_by_a_worker_killed_before_the_claim_is_queued_again_and_not_failed_later(idle_queue):
    # As `kill -9` of the worker just after it took the job: RQ marked it started (with an execution in
    # its started registry), the work horse died with the worker before claiming the build.
    build = pending_build()
    job = taken_by_a_killed_worker(idle_queue, build)

    assert requeue_lost_builds() == 1
    assert idle_queue.job_ids == [job.id]
    assert f"{REQUEUED} (1 of 3)" in Build.objects.get(pk=build.id).log
    # A new worker takes it; when the dead execution would have expired, RQ's cleanup finds nothing to fail.
    job.set_status(JobStatus.STARTED)
    idle_queue.started_job_registry.cleanup(timestamp=time.time() + 3600)
    assert Build.objects.get(pk=build.id).status == Build.Status.PENDING


def test_a_job_rq_finds_abandoned_fails_its_build_with_a_reason(idle_queue):
    # What happens instead when RQ's cleanup (at a worker's start) comes before the housekeeper.
    build = pending_build()
    taken_by_a_killed_worker(idle_queue, build)
    idle_queue.started_job_registry.cleanup(timestamp=time.time() + 3600)
    build.refresh_from_db()
    assert build.status == Build.Status.FAILED
    assert build.reason == "The worker that took this build stopped before running it (killed or lost)"


def taken_by_a_killed_worker(queue, build: Build) -> Job:
    """The job as `kill -9` of a worker that just took it leaves it: out of the queue, started five
    minutes ago, with an execution in the started registry; the build never claimed."""
    enqueue_build(build.id)
    job = Job.fetch(job_id(build.id), connection=queue.connection)
    queue.connection.lrem(queue.key, 0, job.id)
    with queue.connection.pipeline() as pipe:
        job.started_at = timezone.now() - timedelta(minutes=5)
        job.set_status(JobStatus.STARTED, pipeline=pipe)
        job.save(pipeline=pipe)
        Execution.create(job, ttl=90, pipeline=pipe, worker_name="killed")
        pipe.execute()
    assert queue.started_job_registry.get_job_ids() == [job.id]
    return job


def test_a_build_pending_for_less_than_the_timeout_is_left_alone(idle_queue):
    pending_build(age=5)
    assert requeue_lost_builds() == 0
    assert idle_queue.job_ids == []


def test_a_build_whose_job_is_lost_again_and_again_is_failed_with_a_reason(idle_queue):
    build = pending_build()
    for _ in range(3):
        assert requeue_lost_builds() == 1
        idle_queue.empty()  # lost again
    assert requeue_lost_builds() == 1
    build.refresh_from_db()
    assert build.status == Build.Status.FAILED
    assert build.reason == f"{REQUEUED} 3 times and never ran"
    assert build.log.endswith(f"Build failed: {build.reason}\n")


def test_a_build_requested_while_no_worker_is_alive_says_so(api, registry, idle_queue):
    build_id = post(api, "/v1alpha2/container", {"containerFile": b64(f"FROM {registry}/library/busybox\nRUN echo {unique()}\n")}).json()["buildId"]
    status = api.get(f"/v1alpha1/builds/{build_id}/status").json()
    assert status["status"] == "PENDING" and status["reason"] == NO_WORKER
    assert api.get(f"/v1alpha1/builds/{build_id}/logs").content.decode() == NO_WORKER + "\n"
    # The housekeeper does not say it twice.
    Build.objects.filter(pk=build_id).update(created_at=timezone.now() - timedelta(minutes=5))
    requeue_lost_builds()
    assert Build.objects.get(pk=build_id).log.count(NO_WORKER) == 1
