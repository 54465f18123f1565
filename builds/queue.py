from __future__ import annotations

import django_rq
from django.conf import settings
from rq import Callback


def enqueue_build(build_id: str) -> None:
    """Queue the build job; the job id makes a second enqueue of the same build a no-op in RQ."""
    queue = django_rq.get_queue(settings.WAVE_BUILD_QUEUE)
    queue.enqueue(
        "builds.jobs.run_build",
        build_id,
        job_id=f"build-{build_id}",
        job_timeout=settings.WAVE_BUILD_TIMEOUT + 120,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback("builds.jobs.on_job_failure"),
    )
