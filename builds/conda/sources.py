"""Where solving a conda plan fetches from, checked when the request comes in: channels (listed, or
named in a spec as `channel::pkg` or `pkg[channel=...]`) and packages given by URL. Local paths and
`file://` URLs are refused (the worker would read its own disk); the remote URLs are returned for
the SSRF check. Named channels live under the configured channel alias and need no check."""

from __future__ import annotations

import re

import rattler

from .plan import CondaPlan, CondaPlanError
from .solve import RATTLER_ERRORS

_URL_FIELD = re.compile(r'url="([^"]+)"')


def _remote(url: str, what: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise CondaPlanError(f"{what} cannot be used: only http(s) URLs and channel names are allowed, not {url}")
    return url


def _channel_url(base_url: str, channel_alias: str, what: str) -> str | None:
    """The channel's URL to check; None for one under the alias. A local folder is refused."""
    if base_url.startswith("file:"):
        raise CondaPlanError(f"{what} cannot be used: it is a local folder ({base_url}); name a channel or give its http(s) URL")
    return None if base_url.startswith(channel_alias) else _remote(base_url, what)


def _channel(channel: str, channel_alias: str) -> tuple[str, str | None]:
    what = f"Conda channel '{channel}'"
    if "://" in channel:
        return what, _channel_url(_remote(channel, what), channel_alias, what)
    base_url = rattler.Channel(channel, rattler.ChannelConfig(channel_alias=channel_alias)).base_url
    return what, _channel_url(base_url, channel_alias, what)


def remote_urls(plan: CondaPlan, channel_alias: str) -> list[tuple[str, str]]:
    """What (for messages) and which URL outside the channel alias solving `plan` fetches from;
    CondaPlanError for a local source."""
    sources = [_channel(channel, channel_alias) for channel in plan.channels]
    if plan.locked:  # `<url>#<hash>` entries, whose channels are the plan's channels
        return [(what, url) for what, url in sources if url]
    for spec in plan.specs:
        what = f"Conda package '{spec}'"
        try:
            match = rattler.MatchSpec(spec)
        except RATTLER_ERRORS as exc:  # the message says what is wrong
            raise CondaPlanError(f"{what} is not a valid package spec: {str(exc).splitlines()[0]}") from None
        if "::" in spec:
            sources.append(_channel(spec.split("::")[0], channel_alias))
        elif match.channel is not None:  # pkg[channel=...]
            sources.append((what, _channel_url(match.channel.base_url, channel_alias, what)))
        sources += [(what, _remote(url, what)) for url in _URL_FIELD.findall(match.to_canonical_string())]
    return [(what, url) for what, url in sources if url]
