"""Builds that nothing would ever run: their queue entry was lost, or no worker is alive to take it.

A build is PENDING from its request until a worker claims it (`run_build`'s conditional UPDATE). Its
RQ job `build-<id>` can be lost with Redis (a FLUSHDB, a crash within the append-only file's last
second) or be left where no worker looks (its hash kept, its id gone from the queue's list). Such a
build used to stay PENDING for ever, and identical requests joined it. So a housekeeping task
(`requeue_lost_builds`) queues again every build PENDING longer than WAVE_BUILD_PENDING_TIMEOUT whose
job is neither waiting in its queue nor taken by a worker; the claim makes a second run of the same
build a no-op, so racing a worker that has just taken the job is safe. A build queued again
WAVE_BUILD_REQUEUE_LIMIT times is failed with a reason that says so. While no worker is alive, such
builds say so in their log and reason (as a request made then does at once).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.utils import utcparse

from .archive import log_text
from .jobs import fail_build
from .logs import line_appended
from .models import Build
from .queue import build_queues, enqueue_build, job_id, live_workers, note_no_worker, queue_for

REQUEUED = "The build's queue entry was lost; it was queued again"


def requeue_lost_builds() -> int:
    """Queue again (or fail) every build PENDING too long with no job waiting or taken; returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.WAVE_BUILD_PENDING_TIMEOUT)
    queues = build_queues()
    waiting = Build.objects.filter(status=Build.Status.PENDING, created_at__lt=cutoff)
    for platform in waiting.values_list("platform", flat=True).distinct():
        if not live_workers(queue_for(platform)):
            note_no_worker(waiting.filter(platform=platform))
    handled = 0
    for build_id in waiting.values_list("pk", flat=True):
        # Locked while it is checked and queued: a second housekeeper skips it, then finds its job alive.
        with transaction.atomic():
            build = waiting.filter(pk=build_id).select_for_update(skip_locked=True).only("id", "log", "archived_at").first()
            if build is None or job_is_alive(queues, job_id(build_id)):
                continue
            handled += 1
            requeues = log_text(build).count(REQUEUED)
            if requeues >= settings.WAVE_BUILD_REQUEUE_LIMIT:
                fail_build(build_id, f"{REQUEUED} {requeues} times and never ran")
                continue
            Build.objects.filter(pk=build_id).update(**line_appended(f"{REQUEUED} ({requeues + 1} of {settings.WAVE_BUILD_REQUEUE_LIMIT})"))
            for queue in queues:
                forget_dead_executions(queue, job_id(build_id))
            enqueue_build(build_id)
    return handled


def job_is_alive(queues, key: str) -> bool:
    """Whether the job waits in one of the build queues (or in RQ's hand-over list to a worker) or a
    worker has it.

    Read in one transaction, so a worker moving it from one list to the other cannot hide it."""
    connection = queues[0].connection
    with connection.pipeline(transaction=True) as pipe:
        pipe.hget(Job.key_for(key), "status")
        pipe.hget(Job.key_for(key), "started_at")
        for queue in queues:
            pipe.lpos(queue.key, key)
            pipe.lpos(queue.intermediate_queue.key, key)
        status, started_at, *positions = pipe.execute()
    status = status.decode() if isinstance(status, bytes) else status
    if status == JobStatus.STARTED:
        # A worker has it, unless it took it long ago: the claim is `run_build`'s first step, so a
        # build still pending then lost its work horse before the claim (its worker killed outright).
        return not started_at or utcparse(started_at.decode()) > timezone.now() - timedelta(seconds=settings.WAVE_BUILD_PENDING_TIMEOUT)
    return status == JobStatus.QUEUED and any(position is not None for position in positions)


def forget_dead_executions(queue, key: str) -> None:
    """Drop a dead worker's entries for the job from RQ's started registry (members `<job id>:<execution
    id>`): when they expire, RQ's cleanup would run the job's failure callback and fail the build that
    the job queued again may be running by then."""
    registry = queue.started_job_registry
    dead = [m for m in registry.connection.zrange(registry.key, 0, -1) if m.decode().partition(":")[0] == key]
    if dead:
        registry.connection.zrem(registry.key, *dead)
