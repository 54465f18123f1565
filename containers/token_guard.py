"""Container tokens are 12 hex digits (48 bits, as Wave's), so they are guessed only by asking many
times: a client's unknown-token lookups, on /v2/ and on the API's token endpoints, are throttled per
IP (`limits.throttle`; README, Client addresses and throttles). Past the limit every lookup from
that client is refused, a right guess included, so the answers stop telling hits from misses."""

from __future__ import annotations

from accounts.identity import Identity, identify
from limits import throttle
from wave_site.errors import TooManyRequests, Unauthorized

from .proxy import ProxyError
from .tokens import TokenInfo, load_token


async def guarded_load_token(token: str, ip: str | None) -> TokenInfo | None:
    """The token's record, None for an unknown one (counted as a miss); ProxyError 429 past the limit."""
    try:
        await throttle.acheck("token_misses", ip)
    except throttle.RateLimited as exc:
        raise ProxyError(429, "TOOMANYREQUESTS", exc.message, {"Retry-After": str(exc.retry_after)}) from None
    info = await load_token(token)
    if info is None:
        await throttle.afail("token_misses", ip)
    return info


def check_token_misses(ip: str | None) -> None:
    """TooManyRequests while this client may not look tokens up (the API's token endpoints)."""
    try:
        throttle.check("token_misses", ip)
    except throttle.RateLimited as exc:
        raise TooManyRequests(exc.message, retry_after=exc.retry_after) from None


def count_token_miss(ip: str | None) -> None:
    throttle.fail("token_misses", ip)


def guarded_identify(token: str | None, endpoint: str | None, workspace_id: int | None, ip: str | None) -> Identity:
    """`identify`, throttled like token lookups: each access token refused (401) counts for the
    client, and past the limit its tokens are not looked at, so made-up tokens can neither be
    guessed at line rate nor make this service call a Seqera Platform once for each."""
    if not token:
        return identify(token, endpoint, workspace_id)
    try:
        throttle.check("access_token_failures", ip)
    except throttle.RateLimited as exc:
        raise TooManyRequests(exc.message, retry_after=exc.retry_after) from None
    try:
        return identify(token, endpoint, workspace_id)
    except Unauthorized:
        throttle.fail("access_token_failures", ip)
        raise
