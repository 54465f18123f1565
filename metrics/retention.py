"""Pull events older than `WAVE_PULL_EVENT_RETENTION_DAYS` are deleted, once counted: a housekeeping task.

The usage counters (`metrics/counters.py`) count every event below their cursor; an event is deleted
only when it is below the cursor this process saw on its previous round as well as the current one.
Redis syncs its append-only file every second, so a crash can roll the cursor (with its counts) back
by up to a second: the previous round's cursor, a round (`WAVE_HOUSEKEEPING_EVERY`) old, is on disk.
Without Redis nothing is known to be counted, and nothing is deleted.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from wave_site.redis import ERRORS, sync_redis, unavailable

from .counters import CURSOR, HASH
from .models import PullEvent

_previous: dict[str, int | None] = {"cursor": None}


def _durable_cursor() -> int | None:
    """The lower of this round's cursor and the previous round's, or None until both are known."""
    try:
        raw = sync_redis().hget(HASH, CURSOR)
    except ERRORS as exc:
        unavailable("counters", exc)
        raw = None
    current = int(raw) if raw is not None else None
    previous, _previous["cursor"] = _previous["cursor"], current
    if current is None or previous is None:
        return None
    return min(current, previous)


def collect_pull_events() -> int:
    """Delete up to `WAVE_COLLECT_BATCH` counted events past retention; returns how many."""
    days = settings.WAVE_PULL_EVENT_RETENTION_DAYS
    cursor = _durable_cursor()
    if days <= 0 or cursor is None:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    batch = list(
        PullEvent.objects.filter(created_at__lt=cutoff, xid__lt=cursor)
        .order_by("created_at")
        .values_list("pk", flat=True)[: settings.WAVE_COLLECT_BATCH]
    )
    deleted, _ = PullEvent.objects.filter(pk__in=batch).delete()
    return deleted
