"""Redis clients: one sync client per process, one async client per event loop.

Both retry a command once, after a short backoff, on a connection error or timeout: a connection
left stale by a Redis restart is replaced instead of failing the request that found it. Redis being
away is something callers that can do without it report through `unavailable` (logged once per
outage, counted in Prometheus) and then carry on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import weakref

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from wave_site.observability import REDIS_UNAVAILABLE

log = logging.getLogger(__name__)

_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# A burst (a thousand pulls woken at once by their build's end, or hundreds of container requests,
# each in a thread of its own) queues for a connection instead of failing with "Too many
# connections", as redis-py's default pools do past 100.
ASYNC_CONNECTIONS = SYNC_CONNECTIONS = 100
ASYNC_CONNECTION_WAIT = SYNC_CONNECTION_WAIT = 10  # seconds
# Once, soon: a second failure means Redis is away, and callers that can do without it should learn
# that in milliseconds (redis-py's own default retries ten times, for seconds).
_RETRIES, _BACKOFF = 1, ExponentialBackoff(cap=0.1, base=0.02)
_OPTIONS = {
    "retry_on_error": [ConnectionError, TimeoutError],
    "health_check_interval": 30,  # a connection idle that long is PINGed before use
    "socket_connect_timeout": 2,
    "socket_timeout": 5,  # a frozen Redis fails a command, not the request forever
}
# What fails when Redis is away and is to be degraded rather than fail a request.
ERRORS = (redis.RedisError, OSError)


@functools.cache
def sync_redis() -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        settings.REDIS_URL, max_connections=SYNC_CONNECTIONS, timeout=SYNC_CONNECTION_WAIT,
        retry=redis.retry.Retry(_BACKOFF, _RETRIES), **_OPTIONS,
    )
    return redis.Redis(connection_pool=pool)


def async_redis() -> redis.asyncio.Redis:
    """The client for the running loop (an async client's connections belong to one loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=ASYNC_CONNECTIONS, timeout=ASYNC_CONNECTION_WAIT,
            retry=redis.asyncio.retry.Retry(_BACKOFF, _RETRIES), **_OPTIONS,
        )
        client = _async_clients[loop] = redis.asyncio.Redis(connection_pool=pool)
    return client


LOG_EVERY = 60.0  # seconds between two log lines about the same use of Redis failing
_last_logged: dict[str, float] = {}
_log_lock = threading.Lock()


def unavailable(use: str, exc: BaseException) -> None:
    """Redis failed `use` (e.g. "ratelimit") and the caller carries on without it: count it, and log
    it at most once a minute per use, not once per request."""
    REDIS_UNAVAILABLE.labels(use).inc()
    now = time.monotonic()
    with _log_lock:
        if now - _last_logged.get(use, -LOG_EVERY) < LOG_EVERY:
            return
        _last_logged[use] = now
    log.warning("Redis is unavailable for %s, carrying on without it: %s", use, exc)
