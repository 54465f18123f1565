"""Usage events, written where they happen: a row in Postgres and the Redis counters."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from containers.tokens import TokenInfo
from wave_site.redis import sync_redis

from . import counters
from .models import PullEvent

log = logging.getLogger(__name__)
FLUSH_EVERY = 0.2  # seconds
_queue: list[tuple[TokenInfo, str, str | None, datetime]] = []
_scheduled: set = set()  # loops with a flush pending
_pending: set[asyncio.Task] = set()


def record_pulls(pulls: list[tuple[TokenInfo, str, str | None, datetime]]) -> None:
    """Write pulls as one insert, and their counters as one Redis transaction."""
    events = PullEvent.objects.bulk_create(
        PullEvent(token=info.token, user_id=info.user_id, org=info.org, image=info.image, digest=digest,
                  platform=info.platform, fusion=info.fusion, ip_address=ip, created_at=at)
        for info, digest, ip, at in pulls
    )
    pipe = sync_redis().pipeline(transaction=True)
    for event in events:
        day = timezone.localdate(event.created_at)
        counters.increment("pulls", event.org or None, day, pipe=pipe)
        if event.fusion:
            counters.increment("fusion", event.org or None, day, pipe=pipe)
    pipe.execute()


def record_build(org: str | None, created_at) -> None:
    counters.increment("builds", org or None, timezone.localdate(created_at))


def record_pull_soon(info: TokenInfo, digest: str, ip_address: str | None) -> None:
    """Queue a pull; the queue is written every FLUSH_EVERY seconds beside the responses, not before them.

    One insert per batch instead of one per pull keeps the ORM's CPU off the manifest path; a process
    that dies loses at most the last FLUSH_EVERY seconds of pull records (the pulls themselves happened).
    """
    _queue.append((info, digest, ip_address, timezone.now()))
    loop = asyncio.get_running_loop()
    if loop not in _scheduled:
        _scheduled.add(loop)
        loop.call_later(FLUSH_EVERY, _start_flush, loop)


def _record_outside_a_request(batch: list) -> None:
    # No request ends here to give the connection back to the pool: give it back now.
    try:
        record_pulls(batch)
    finally:
        connections.close_all()


def _start_flush(loop: asyncio.AbstractEventLoop) -> None:
    task = loop.create_task(_flush(loop))
    _pending.add(task)  # the loop keeps only weak references to tasks
    task.add_done_callback(_pending.discard)


async def _flush(loop: asyncio.AbstractEventLoop) -> None:
    _scheduled.discard(loop)
    batch = _queue[:]
    del _queue[:]
    try:
        await sync_to_async(_record_outside_a_request)(batch)
    except Exception:  # the pulls were served; say in the log that their records are lost
        log.exception("could not record %d pulls", len(batch))
