"""Builds whose worker died: detected by a stale heartbeat, read as failed at once and marked failed
by the housekeeper (`reap_stale_builds` is one of WAVE_HOUSEKEEPING_TASKS). Reads never write: a
GET shows such a build through `as_read`, with the reason the reaper will record."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .archive import archive_soon
from .ended import announce_end
from .logs import line_appended
from .models import Build


def stale_reason() -> str:
    return f"The worker running this build stopped: no heartbeat for {settings.WAVE_BUILD_HEARTBEAT_TIMEOUT} seconds"


def _cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.WAVE_BUILD_HEARTBEAT_TIMEOUT)


def is_stale(build: Build, now: datetime | None = None) -> bool:
    return (
        build.status == Build.Status.RUNNING
        and build.heartbeat_at is not None
        and build.heartbeat_at < _cutoff(now or timezone.now())
    )


def as_read(build: Build | None) -> Build | None:
    """`build` as the reaper will leave it: a stale RUNNING build, in memory only, FAILED with the
    reaper's reason (and its log line, when the log was loaded). Nothing is written."""
    if build is None or not is_stale(build):
        return build
    reason = stale_reason()
    build.status, build.reason, build.public_reason, build.finished_at = Build.Status.FAILED, reason, reason, timezone.now()
    if "log" in build.__dict__:  # not deferred: shown as the reaper will write it
        build.log += f"Build failed: {reason}\n"
    return build


def reap_stale_builds() -> int:
    """Mark failed every running build with no heartbeat for too long."""
    now = timezone.now()
    stale = Build.objects.filter(status=Build.Status.RUNNING, heartbeat_at__lt=_cutoff(now))
    reason = stale_reason()
    with transaction.atomic():
        # Locked, so the ids announced are exactly the rows this UPDATE ends (not one a worker ends meanwhile).
        ids = list(stale.select_for_update(skip_locked=True).values_list("pk", flat=True))
        if not ids:
            return 0
        Build.objects.filter(pk__in=ids).update(
            status=Build.Status.FAILED,
            finished_at=now,
            reason=reason, public_reason=reason,
            **line_appended(f"Build failed: {reason}"),
        )
    for stale_id in ids:
        announce_end(stale_id, Build.Status.FAILED, reason)
        archive_soon(stale_id)
    return len(ids)
