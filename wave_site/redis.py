"""Redis clients: one sync client per process, one async client per event loop."""

from __future__ import annotations

import asyncio
import functools
import weakref

import redis
import redis.asyncio
from django.conf import settings

_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# A burst (a thousand pulls woken at once by their build's end, or hundreds of container requests,
# each in a thread of its own) queues for a connection instead of failing with "Too many
# connections", as redis-py's default pools do past 100.
ASYNC_CONNECTIONS = SYNC_CONNECTIONS = 100
ASYNC_CONNECTION_WAIT = SYNC_CONNECTION_WAIT = 10  # seconds


@functools.cache
def sync_redis() -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=SYNC_CONNECTIONS, timeout=SYNC_CONNECTION_WAIT)
    return redis.Redis(connection_pool=pool)


def async_redis() -> redis.asyncio.Redis:
    """The client for the running loop (an async client's connections belong to one loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=ASYNC_CONNECTIONS, timeout=ASYNC_CONNECTION_WAIT
        )
        client = _async_clients[loop] = redis.asyncio.Redis(connection_pool=pool)
    return client
