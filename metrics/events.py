"""Pull records, written to Postgres beside the responses (the usage counters derive from them).

Each process queues its pulls and writes them every FLUSH_EVERY seconds as one insert. A batch that
cannot be written because Postgres is away stays queued and is tried again with a growing pause (up
to RETRY_MAX seconds), so a database restart delays records but loses none. The queue is bounded
(`WAVE_PULL_RECORD_BUFFER`): past it, new records are dropped, logged and counted
(`wave_pull_records_dropped_total`), as is a batch Postgres refuses for its content. A process killed
outright loses what it had queued: the last FLUSH_EVERY seconds, or the outage's backlog.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone

from wave_site.observability import PULL_RECORDS_BUFFERED, PULL_RECORDS_DROPPED

from .models import PullEvent

log = logging.getLogger(__name__)
FLUSH_EVERY = 0.2  # seconds
RETRY_MAX = 5.0  # seconds between attempts while Postgres is away
BATCH = 1000  # records per insert (a backlog is written in several)
# Errors of reaching Postgres (a restart, a full pool), as opposed to a batch it refuses.
UNREACHABLE = (OperationalError, InterfaceError)



@dataclass(frozen=True)
class PullRecord:
    """What a pull event records of the token that served it (the caller makes it from its token:
    metrics sits below containers and knows no token)."""

    token: str
    user_id: int | None
    org: str
    image: str
    platform: str
    fusion: bool


Pull = tuple[PullRecord, str, str | None, datetime]


def record_pulls(pulls: list[Pull]) -> None:
    """Write pulls as one insert."""
    PullEvent.objects.bulk_create(
        PullEvent(token=info.token, user_id=info.user_id, org=info.org, image=info.image, digest=digest,
                  platform=info.platform, fusion=info.fusion, ip_address=ip, created_at=at)
        for info, digest, ip, at in pulls
    )


def _record_outside_a_request(batch: list[Pull]) -> None:
    # No request ends here to give the connection back to the pool: give it back now (a broken one
    # is discarded, so the next attempt gets a fresh one).
    try:
        record_pulls(batch)
    finally:
        connections.close_all()


class _Writer:
    """A loop's queue of pull records and the task that writes it while it is not empty."""

    def __init__(self) -> None:
        self.queue: deque[Pull] = deque()
        self.task: asyncio.Task | None = None
        self.dropped = 0  # since the last log line about it

    def add(self, pull: Pull) -> None:
        if len(self.queue) >= settings.WAVE_PULL_RECORD_BUFFER:
            PULL_RECORDS_DROPPED.inc()
            if not self.dropped:
                log.error("the pull record buffer is full (%d, Postgres away?): dropping new pull records",
                          len(self.queue))
            self.dropped += 1
            return
        self.queue.append(pull)
        PULL_RECORDS_BUFFERED.inc()
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        pause, failures = FLUSH_EVERY, 0
        while self.queue:
            await asyncio.sleep(pause)
            batch = [self.queue[i] for i in range(min(BATCH, len(self.queue)))]
            try:
                await sync_to_async(_record_outside_a_request, thread_sensitive=False)(batch)
            except UNREACHABLE as exc:  # kept: tried again, less often the longer it lasts
                failures += 1
                pause = min(FLUSH_EVERY * 2**failures, RETRY_MAX)
                if failures == 1:
                    log.warning("could not record %d pulls, trying again until Postgres answers: %s", len(batch), exc)
                continue
            except Exception:  # refused for what it holds: retrying would block every later record
                log.exception("could not record %d pulls: dropped", len(batch))
                PULL_RECORDS_DROPPED.inc(len(batch))
            if failures:
                log.warning("recorded %d pulls after %d failed attempts", len(batch), failures)
            if self.dropped:
                log.error("%d pull records were dropped while the buffer was full", self.dropped)
                self.dropped = 0
            for _ in batch:
                self.queue.popleft()
            PULL_RECORDS_BUFFERED.dec(len(batch))
            pause, failures = FLUSH_EVERY, 0
        self.task = None  # no await between the emptiness check and this: no record is left behind


_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def record_pull_soon(info: PullRecord, digest: str, ip_address: str | None) -> None:
    """Queue a pull; the queue is written every FLUSH_EVERY seconds beside the responses, not before them.

    One insert per batch instead of one per pull keeps the ORM's CPU off the manifest path.
    """
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = _Writer()
    writer.add((info, digest, ip_address, timezone.now()))
