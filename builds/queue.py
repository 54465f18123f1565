from __future__ import annotations

import django_rq
from django.conf import settings
from rq import Callback, worker_registration

from .logs import appended
from .models import Build

NO_WORKER = "No build worker is running: the build starts when one does"


def job_id(build_id: str) -> str:
    return f"build-{build_id}"


def enqueue_build(build_id: str) -> None:
    """Queue the build job (the claim in `run_build` makes a job that runs twice build once), and say in
    the build's log when no worker is alive to take it."""
    queue = django_rq.get_queue(settings.WAVE_BUILD_QUEUE)
    queue.enqueue(
        "builds.jobs.run_build",
        build_id,
        job_id=job_id(build_id),
        job_timeout=settings.WAVE_BUILD_TIMEOUT + 120,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback("builds.jobs.on_job_failure"),
    )
    if not live_workers(queue):
        note_no_worker(Build.objects.filter(pk=build_id))


def live_workers(queue) -> int:
    """Workers listening on `queue` whose key has not expired (a killed worker's stays registered a while)."""
    keys = worker_registration.get_keys(queue=queue)
    return queue.connection.exists(*keys) if keys else 0


def note_no_worker(builds) -> int:
    """Say in the log and reason of each still pending build of `builds` (once) that no worker is alive."""
    return builds.filter(status=Build.Status.PENDING).exclude(reason=NO_WORKER).update(
        reason=NO_WORKER, log=appended(NO_WORKER + "\n"),
    )
