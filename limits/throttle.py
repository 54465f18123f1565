"""Throttles where guessing is possible: failures (unknown container tokens, refused access tokens,
wrong passwords) counted per client IP in Redis fixed windows; past the limit every attempt from that
IP is refused, the right guess included, until the window ends.

Only failures count, so clients that get things right are never slowed. Like the rate limits they
degrade open: while Redis is away nothing is throttled, logged once a minute and counted as
`wave_redis_unavailable_total{use="throttle"}` (README, Client addresses and throttles).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from wave_site.redis import ERRORS, async_redis, sync_redis, unavailable

from .ratelimit import Limit, RateLimited, _describe, client_subject

log = logging.getLogger(__name__)

WHAT = {
    "token_misses": "unknown container tokens",
    "access_token_failures": "refused access tokens",
    "login_failures": "failed logins",
}


# What the windows are counted by: a seam the tests replace with a clock they move (tests/support/clock.py).
clock = time.time


def _window(kind: str, ip: str | None) -> tuple[Limit, str, int]:
    limit = Limit.parse(getattr(settings, f"WAVE_RATE_LIMIT_{kind.upper()}"))
    now = int(clock())
    start = now - now % limit.window
    return limit, f"wave:throttle:{kind}:{client_subject(ip)}:{start}", start + limit.window - now


def _verdict(kind: str, ip: str | None, limit: Limit, failures: int, retry_after: int) -> None:
    if failures >= limit.count:
        raise RateLimited(
            f"Too many {WHAT[kind]} from client {ip}: {limit.count} in {_describe(limit.window)}; "
            f"try again in {retry_after} seconds",
            retry_after,
        )


def check(kind: str, ip: str | None) -> None:
    """Raise RateLimited while `ip` has used up its failures of `kind` in this window."""
    limit, key, retry_after = _window(kind, ip)
    try:
        failures = int(sync_redis().get(key) or 0)
    except ERRORS as exc:
        return unavailable("throttle", exc)
    _verdict(kind, ip, limit, failures, retry_after)


async def acheck(kind: str, ip: str | None) -> None:
    """`check` for async code."""
    limit, key, retry_after = _window(kind, ip)
    try:
        failures = int(await async_redis().get(key) or 0)
    except ERRORS as exc:
        return unavailable("throttle", exc)
    _verdict(kind, ip, limit, failures, retry_after)


def _counted(kind: str, ip: str | None, limit: Limit, failures: int, retry_after: int) -> None:
    if failures == limit.count:  # once per client and window, not once per refused attempt
        log.warning("client %s reached %d %s in %s: refused for %d seconds",
                    ip, failures, WHAT[kind], _describe(limit.window), retry_after)


def fail(kind: str, ip: str | None) -> None:
    """Count one failure of `kind` for `ip`."""
    limit, key, retry_after = _window(kind, ip)
    try:
        failures = sync_redis().pipeline(transaction=True).incr(key).expire(key, limit.window + 5).execute()[0]
    except ERRORS as exc:
        return unavailable("throttle", exc)
    _counted(kind, ip, limit, failures, retry_after)


async def afail(kind: str, ip: str | None) -> None:
    """`fail` for async code."""
    limit, key, retry_after = _window(kind, ip)
    try:
        async with async_redis().pipeline(transaction=True) as pipe:
            failures = (await pipe.incr(key).expire(key, limit.window + 5).execute())[0]
    except ERRORS as exc:
        return unavailable("throttle", exc)
    _counted(kind, ip, limit, failures, retry_after)
