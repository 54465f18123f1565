"""A build's end, told through Redis: what wakes the pulls waiting for it (`containers/build_wait.py`).

Every place a build ends (the worker's `finish`, `fail_build`, the reaper) calls `announce_end` after
its UPDATE, so a waiting pull never needs the database: the key holds the final state for late
readers, and one message on a shared channel wakes every web process's waiters at once.
"""

from __future__ import annotations

import json
import logging

import redis

from wave_site.redis import sync_redis

log = logging.getLogger(__name__)

KEEP = 30 * 24 * 3600  # seconds the final state stays readable (a few bytes per build)


def channel() -> str:
    # Pub/sub ignores database numbers: instances sharing a Redis server (the tests use database 15)
    # must not hear each other's builds, whose ids can be the same.
    return f"wave:builds:ended:{sync_redis().get_connection_kwargs().get('db', 0)}"


def ended_key(build_id: str) -> str:
    return f"wave:build:{build_id}:done"


def encode_end(build_id: str, status: str, reason: str) -> str:
    return json.dumps({"id": build_id, "status": status, "reason": reason})


def announce_end(build_id: str, status: str, reason: str) -> None:
    """Record and publish the final state; a Redis failure is logged, not raised (the record is in
    Postgres already, and waiters fall back to reading it)."""
    value = encode_end(build_id, status, reason)
    try:
        pipe = sync_redis().pipeline(transaction=False)
        pipe.set(ended_key(build_id), value, ex=KEEP)
        pipe.publish(channel(), value)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not announce the end of build %s: %s", build_id, exc)
