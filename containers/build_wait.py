"""Pulls waiting for a build: woken through Redis, holding no thread and no database connection.

One subscription per event loop (a web process) to `builds.ended.channel()` fans each build's end out
to the futures of its waiters, so a thousand waiting pulls cost one Redis connection. A waiter also
re-reads the build's ended key every POLL seconds (a message lost while the subscription
reconnects), and reads Postgres only after DB_AFTER seconds without an answer, through a connection
given back at once (the build ended unannounced, Redis lost the key, or its worker died unreaped).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref

import redis
from asgiref.sync import sync_to_async
from django.db import connections

from builds.ended import announce_end, channel, ended_key
from builds.models import Build
from builds.reconcile import reap_stale_builds
from wave_site.observability import WAITING_PULLS
from wave_site.redis import async_redis

log = logging.getLogger(__name__)

POLL = 5.0  # seconds between re-reads of a build's ended key
DB_AFTER = 30.0  # seconds a waiter goes without an answer from Redis before it reads Postgres

State = tuple[str, str]  # a final (status, reason)


class _Listener:
    """The loop's one subscription, alive while anyone waits; its waiters' futures by build id."""

    def __init__(self) -> None:
        self.waiters: dict[str, set[asyncio.Future]] = {}
        self.task: asyncio.Task | None = None

    def add(self, build_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(build_id, set()).add(future)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._listen())
        return future

    def discard(self, build_id: str, future: asyncio.Future) -> None:
        futures = self.waiters.get(build_id, set())
        futures.discard(future)
        if not futures:
            self.waiters.pop(build_id, None)

    def _wake(self, data: bytes) -> None:
        end = json.loads(data)
        for future in self.waiters.get(end["id"], ()):
            if not future.done():
                future.set_result((end["status"], end["reason"]))

    async def _listen(self) -> None:
        while True:
            try:
                async with async_redis().pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(channel())
                    while self.waiters:
                        message = await pubsub.get_message(timeout=POLL)
                        if message:
                            self._wake(message["data"])
            except (redis.RedisError, OSError) as exc:  # waiters poll meanwhile; resubscribe
                log.warning("build-end subscription lost: %s", exc)
                await asyncio.sleep(1)
            if not self.waiters:  # no await between this check and `task = None`: no waiter is missed
                self.task = None
                return


_listeners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _listener() -> _Listener:
    loop = asyncio.get_running_loop()
    if loop not in _listeners:
        _listeners[loop] = _Listener()
    return _listeners[loop]


async def _announced(build_id: str) -> State | None:
    try:
        raw = await async_redis().get(ended_key(build_id))
    except redis.RedisError as exc:
        log.warning("could not read the end of build %s: %s", build_id, exc)
        return None
    if raw is None:
        return None
    end = json.loads(raw)
    return end["status"], end["reason"]


def _recorded(build_id: str) -> State | None:
    """The final state in Postgres (reaping a dead worker's build), announced for the other waiters."""
    try:
        reap_stale_builds(build_id)
        build = Build.objects.only("status", "reason").get(pk=build_id)
        if not build.completed:
            return None
        announce_end(build_id, build.status, build.reason)
        return build.status, build.reason
    finally:
        connections.close_all()  # this thread is the executor's: give the connection back now


async def wait_for_end(build_id: str, deadline: float) -> State | None:
    """The build's final (status, reason), or None if it has not ended by `deadline` (monotonic).
    A cancelled waiter (its client went away) leaves nothing behind."""
    listener = _listener()
    ended = listener.add(build_id)  # before the first read: an end announced in between still wakes it
    WAITING_PULLS.inc()
    try:
        state = await _announced(build_id)
        read_db_at = time.monotonic() + DB_AFTER
        while state is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await asyncio.wait([ended], timeout=min(POLL, left))
            if ended.done():
                return ended.result()
            state = await _announced(build_id)
            if state is None and time.monotonic() >= read_db_at:
                state = await sync_to_async(_recorded, thread_sensitive=False)(build_id)
                read_db_at = time.monotonic() + DB_AFTER
        return state
    finally:
        listener.discard(build_id, ended)
        WAITING_PULLS.dec()
