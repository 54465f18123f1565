"""Builds whose worker died: detected by a stale heartbeat and marked failed."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .ended import announce_end
from .logs import appended
from .models import Build


def reap_stale_builds(build_id: str | None = None) -> int:
    """Mark failed every running build (or just `build_id`) with no heartbeat for too long."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.WAVE_BUILD_HEARTBEAT_TIMEOUT)
    stale = Build.objects.filter(status=Build.Status.RUNNING, heartbeat_at__lt=cutoff)
    if build_id is not None:
        stale = stale.filter(pk=build_id)
    reason = (
        f"The worker running this build stopped: no heartbeat for {settings.WAVE_BUILD_HEARTBEAT_TIMEOUT} seconds"
    )
    with transaction.atomic():
        # Locked, so the ids announced are exactly the rows this UPDATE ends (not one a worker ends meanwhile).
        ids = list(stale.select_for_update(skip_locked=True).values_list("pk", flat=True))
        if not ids:
            return 0
        Build.objects.filter(pk__in=ids).update(
            status=Build.Status.FAILED,
            finished_at=now,
            reason=reason,
            log=appended(f"Build failed: {reason}\n"),
        )
    for stale_id in ids:
        announce_end(stale_id, Build.Status.FAILED, reason)
    return len(ids)
