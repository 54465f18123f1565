from __future__ import annotations

import django_rq
from django.conf import settings
from rq import Callback, Queue, worker_registration

from .logs import line_appended
from .models import Build
from .platforms import PLATFORMS, canonical, queue_name

NO_WORKER = "No build worker is running: the build starts when one does"


def job_id(build_id: str) -> str:
    return f"build-{build_id}"


def platform_queue(platform: str) -> Queue:
    return django_rq.get_queue(queue_name(settings.WAVE_BUILD_QUEUE, platform))


def build_queues() -> list[Queue]:
    """Every queue a build job may wait in: each platform's, and the one before queues per platform."""
    return [platform_queue(p) for p in PLATFORMS] + [django_rq.get_queue(settings.WAVE_BUILD_QUEUE)]


def worker_seen(platform: str) -> bool:
    """Whether a worker for `platform` is registered with a live key (RQ's worker registry: the key
    lives for the worker's TTL past its last heartbeat, so a killed worker counts a few minutes more)."""
    return bool(live_workers(platform_queue(platform)))


def queue_for(platform: str) -> Queue:
    """The platform's queue while a worker for it is seen; else the queue of this deployment's own
    workers (WAVE_WORKER_PLATFORMS), which build it when it needs no RUN step, or runs it through
    qemu here: the request's check (`services._check_emulation`) let only those through."""
    platform = canonical(platform)
    if platform in settings.WAVE_WORKER_PLATFORMS or worker_seen(platform):
        return platform_queue(platform)
    return platform_queue((settings.WAVE_WORKER_PLATFORMS or [settings.WAVE_DEFAULT_PLATFORM])[0])


def enqueue_build(build_id: str) -> None:
    """Queue the build job (the claim in `run_build` makes a job that runs twice build once), and say in
    the build's log when no worker is alive to take it."""
    platform = Build.objects.filter(pk=build_id).values_list("platform", flat=True).first()
    queue = queue_for(platform or settings.WAVE_DEFAULT_PLATFORM)
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
        reason=NO_WORKER, public_reason=NO_WORKER, **line_appended(NO_WORKER),
    )
