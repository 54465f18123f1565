"""The new-container page's package search: the configured conda channels only (WAVE_CONDA_CHANNELS,
never a channel the caller names), rate limited like requests, answers kept in the cache (Redis)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from builds.conda.search import SUBDIRS, ChannelUnreachable, search
from limits import ratelimit
from wave_site.errors import BadGateway, InvalidRequest, TooManyRequests
from wave_site.fields import shown
from wave_site.redis import ERRORS as REDIS_ERRORS

MAX_RESULTS = 20
MAX_QUERY = 100
TIMEOUT = 30  # seconds for all channels' indexes; a first search of conda-forge reads its shards
_NAME = re.compile(r"^[a-z0-9._-]+$")
# The gateway's on-disk repodata cache: the web process's own, revalidated with the channel (ETag).
CACHE_DIR = Path(tempfile.gettempdir()) / f"wave-conda-search-{os.getuid()}"


def parse(query: str, subdir: str) -> tuple[str, str]:
    query, subdir = query.strip().lower(), subdir.strip() or SUBDIRS[0]
    if not query or len(query) > MAX_QUERY or not _NAME.match(query):
        raise InvalidRequest(
            f"Parameter 'q' must be part of a conda package name (letters, digits, '.', '_', '-'; at most "
            f"{MAX_QUERY} characters), not '{shown(query)}'"
        )
    if subdir not in SUBDIRS:
        raise InvalidRequest(f"Parameter 'platform' takes {' or '.join(SUBDIRS)}, not '{shown(subdir)}'")
    return query, subdir


def _key(channels: list[str], subdir: str, query: str) -> str:
    return "wave:pkgsearch:" + hashlib.sha256(json.dumps([channels, subdir, query, MAX_RESULTS]).encode()).hexdigest()


async def _cached(key: str) -> dict | None:
    try:
        return await cache.aget(key)
    except REDIS_ERRORS:  # degrade open, as the rate limits do: search the channels instead
        return None


async def find_packages(query: str, subdir: str, user_id: int | None, ip: str | None) -> dict:
    """The answer of GET /view/containers/packages: InvalidRequest, TooManyRequests or BadGateway."""
    query, subdir = parse(query, subdir)
    try:
        await ratelimit.acheck("searches", user_id, ip)
    except ratelimit.RateLimited as exc:
        raise TooManyRequests(exc.message, retry_after=exc.retry_after) from None
    channels = list(settings.WAVE_CONDA_CHANNELS)
    key = _key(channels, subdir, query)
    if (answer := await _cached(key)) is not None:
        return answer
    try:
        packages, more = await asyncio.wait_for(
            search(channels, settings.WAVE_CONDA_CHANNEL_ALIAS, subdir, query, MAX_RESULTS, CACHE_DIR), TIMEOUT
        )
    except ChannelUnreachable as exc:
        raise BadGateway(str(exc)) from None
    except TimeoutError:
        raise BadGateway(f"The conda channels {', '.join(channels)} did not answer within {TIMEOUT} seconds") from None
    answer = {"query": query, "platform": subdir, "channels": channels, "truncated": more,
              "packages": [{**asdict(p), "platforms": list(p.platforms)} for p in packages]}
    try:
        await cache.aset(key, answer, settings.WAVE_PACKAGE_SEARCH_TTL)
    except REDIS_ERRORS:
        pass  # answered all the same; the next search reads the channels again
    return answer
