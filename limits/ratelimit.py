"""Rate limits in Redis (fixed windows), shared by every web process.

The reference's limits are the defaults: with a token, 100 builds an hour and 1,000 pulls a minute
per user; without one, 25 builds a day and 250 pulls an hour per client IP. They degrade open: while
Redis is away, nothing is limited (counted as `wave_redis_unavailable_total{use="ratelimit"}`).
"""

from __future__ import annotations

import functools
import ipaddress
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from wave_site.redis import ERRORS, async_redis, sync_redis, unavailable


# What the windows are counted by: a seam the tests replace with a clock they move (tests/support/clock.py).
clock = time.time


@dataclass(frozen=True)
class Limit:
    count: int
    window: int  # seconds

    @classmethod
    def parse(cls, value: str) -> Limit:
        count, _, window = value.partition("/")
        return cls(int(count), int(window))


class RateLimited(Exception):
    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


def _describe(window: int) -> str:
    return {60: "a minute", 3600: "an hour", 86400: "a day"}.get(window, f"{window} seconds")


IPV6_CLIENT_PREFIX = 64  # one host (one ISP customer) is handed a whole /64


def client_subject(ip: str | None) -> str:
    """Whom an address's limits are counted for: an IPv4 address, or an IPv6 address's /64, since a
    client can take any address of its /64 and would otherwise get a fresh budget with each."""
    address = _address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address) if address else (ip or "unknown")


def _window(kind: str, user_id: int | None, ip: str | None) -> tuple[Limit, str, int, int, str]:
    authenticated = user_id is not None
    limit = Limit.parse(getattr(settings, f"WAVE_RATE_LIMIT_{kind.upper()}_{'USER' if authenticated else 'ANONYMOUS'}"))
    subject = f"user:{user_id}" if authenticated else f"ip:{client_subject(ip)}"
    now = int(clock())
    start = now - now % limit.window
    who = "this user" if authenticated else f"client {ip} without an access token"
    return limit, f"wave:ratelimit:{kind}:{subject}:{start}", start + limit.window - now, limit.window + 5, who


def _verdict(kind: str, limit: Limit, used: int, retry_after: int, who: str) -> None:
    if used > limit.count:
        raise RateLimited(
            f"Rate limit exceeded: {limit.count} {kind} {_describe(limit.window)} for {who}; "
            f"it resets in {retry_after} seconds",
            retry_after,
        )


def check(kind: str, user_id: int | None, ip: str | None) -> None:
    """Count one `kind` ('builds' or 'pulls') for the user (or the IP); raise RateLimited past the limit."""
    limit, key, retry_after, ttl, who = _window(kind, user_id, ip)
    pipe = sync_redis().pipeline(transaction=True)
    pipe.incr(key).expire(key, ttl)
    try:
        used = pipe.execute()[0]
    except ERRORS as exc:
        return unavailable("ratelimit", exc)
    _verdict(kind, limit, used, retry_after, who)


async def acheck(kind: str, user_id: int | None, ip: str | None) -> None:
    """`check` for async code."""
    limit, key, retry_after, ttl, who = _window(kind, user_id, ip)
    try:
        async with async_redis().pipeline(transaction=True) as pipe:
            used = (await pipe.incr(key).expire(key, ttl).execute())[0]
    except ERRORS as exc:
        return unavailable("ratelimit", exc)
    _verdict(kind, limit, used, retry_after, who)


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"WAVE_TRUSTED_PROXIES: {exc}") from None


def _address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: the same client as a.b.c.d.
    return getattr(address, "ipv4_mapped", None) or address


def client_ip(meta: dict) -> str | None:
    """The client's address: the socket peer (REMOTE_ADDR), unless that peer is a proxy named in
    WAVE_TRUSTED_PROXIES (addresses or networks); then the right-most X-Forwarded-For address that
    is not a trusted proxy. Every place that reads the client's IP (rate limits, throttles, request
    records, pull events, logs) goes through here; the server must pass the socket peer unchanged
    (uvicorn `--no-proxy-headers`). README, Client addresses and throttles."""
    remote = meta.get("REMOTE_ADDR")
    peer = _address(remote)
    trusted = _networks(tuple(settings.WAVE_TRUSTED_PROXIES))
    if peer is None or not any(peer in net for net in trusted):
        return str(peer) if peer else remote
    client = peer
    for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:  # not written by a trusted proxy: stop at the last address one vouched for
            break
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)
