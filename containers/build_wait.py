"""Pulls waiting for a build: woken through Redis, holding no thread and no database connection.

One listener per event loop (a web process) serves all its waiters, so a thousand waiting pulls cost
one Redis subscription and one look per build, not per pull: it hears `builds.ended.channel()`,
re-reads the ended keys of the builds waited for every POLL seconds (an end announced while the
subscription reconnected), and reads Postgres for a build at its first look and then after every
DB_EVERY seconds without an answer from Redis (the build ended unannounced, Redis lost the key, or its
worker died: read as failed), through a connection given back at once. While Redis is away, waiting and new waiters carry on the
same way: the subscription is retried every second and Postgres read every DB_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref

from asgiref.sync import sync_to_async
from django.db import connections

from builds.ended import announce_end, channel, ended_key
from builds.models import Build
from builds.reconcile import as_read
from wave_site.observability import WAITING_PULLS
from wave_site.redis import ERRORS, async_redis, unavailable

log = logging.getLogger(__name__)

POLL = 5.0  # seconds between re-reads of the ended keys
DB_EVERY = 30.0  # seconds a build goes without an answer from Redis before Postgres is read for it

State = tuple[str, str]  # a final (status, reason)
GONE = "its record was deleted"


def _decode(raw: bytes) -> State:
    end = json.loads(raw)
    return end["status"], end["reason"]


def _recorded(build_id: str) -> State | None:
    """The final state in Postgres, announced for every waiter; a dead worker's build reads as failed
    (`as_read`), and is announced by the housekeeper when it records that. A build whose row is gone
    (deleted by an operator) will never end: its waiters are told so, not held until their deadline."""
    try:
        try:
            build = Build.objects.only("status", "reason", "heartbeat_at").get(pk=build_id)
        except Build.DoesNotExist:
            return Build.Status.FAILED, GONE
        if build.completed:
            announce_end(build_id, build.status, build.reason)
        elif not as_read(build).completed:
            return None
        return build.status, build.reason
    finally:
        connections.close_all()  # this thread is the executor's: give the connection back now


class _Listener:
    """The loop's subscription, alive while anyone waits; the waiters' futures by build id."""

    def __init__(self) -> None:
        self.waiters: dict[str, set[asyncio.Future]] = {}
        self.db_due: dict[str, float] = {}
        self.task: asyncio.Task | None = None

    def add(self, build_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if build_id not in self.waiters:
            # Due at the first look: a build that ended unannounced (its end never reached Redis, or
            # Redis lost the key) must not hold its first pull DB_EVERY seconds; one query per build.
            self.waiters[build_id], self.db_due[build_id] = set(), time.monotonic()
        self.waiters[build_id].add(future)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._listen())
        return future

    def discard(self, build_id: str, future: asyncio.Future) -> None:
        futures = self.waiters.get(build_id, set())
        futures.discard(future)
        if not futures:
            self.waiters.pop(build_id, None)
            self.db_due.pop(build_id, None)
        if not self.waiters and self.task is not None:
            # The last waiter left (its build ended or its client went away): end the subscription
            # now, not at the listener's next look up to POLL seconds later (and not by an MGET of
            # no keys, which Redis refuses).
            self.task.cancel()
            self.task = None

    def _wake(self, build_id: str, state: State) -> None:
        for future in self.waiters.get(build_id, ()):
            if not future.done():
                future.set_result(state)

    async def _look(self) -> None:
        """The ended keys of every build waited for, in one MGET; Postgres for those long overdue."""
        ids = list(self.waiters)
        unanswered = []
        for build_id, raw in zip(ids, await async_redis().mget([ended_key(i) for i in ids])):
            if raw is not None:
                self._wake(build_id, _decode(raw))
            else:
                unanswered.append(build_id)
        await self._read_database(unanswered)

    async def _read_database(self, ids: list[str]) -> None:
        """Postgres, for the builds among `ids` that have gone DB_EVERY seconds without an answer."""
        for build_id in ids:
            if build_id not in self.db_due or time.monotonic() < self.db_due[build_id]:
                continue
            self.db_due[build_id] = time.monotonic() + DB_EVERY
            try:
                state = await sync_to_async(_recorded, thread_sensitive=False)(build_id)
            except Exception:  # Postgres down as well: the next look tries again
                log.exception("could not read build %s", build_id)
                continue
            if state is not None:
                self._wake(build_id, state)

    async def _listen(self) -> None:
        while True:
            try:
                async with async_redis().pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(channel())
                    look_at = time.monotonic() + POLL
                    while self.waiters:
                        message = await pubsub.get_message(timeout=max(look_at - time.monotonic(), 0))
                        if message:
                            end = json.loads(message["data"])
                            self._wake(end["id"], (end["status"], end["reason"]))
                        if time.monotonic() >= look_at:
                            await self._look()
                            look_at = time.monotonic() + POLL
            except ERRORS as exc:
                unavailable("build_wait", exc)
                await self._read_database(list(self.waiters))
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


async def wait_for_end(build_id: str, deadline: float) -> State | None:
    """The build's final (status, reason), or None if it has not ended by `deadline` (monotonic).
    A cancelled waiter (its client went away) leaves nothing behind."""
    listener = _listener()
    ended = listener.add(build_id)  # before the first read: an end announced in between still wakes it
    WAITING_PULLS.inc()
    try:
        try:
            raw = await async_redis().get(ended_key(build_id))
        except ERRORS as exc:  # no answer will come from Redis: the listener reads Postgres at once
            unavailable("build_wait", exc)
            listener.db_due[build_id] = time.monotonic()
            raw = None
        if raw is not None:
            return _decode(raw)
        await asyncio.wait([ended], timeout=max(deadline - time.monotonic(), 0))
        return ended.result() if ended.done() else None
    finally:
        listener.discard(build_id, ended)
        WAITING_PULLS.dec()
