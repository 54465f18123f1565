"""Package search over conda channels with py-rattler's gateway: names matching a query, each with
its latest version and the platforms (subdirs) it is built for. No Django: the caller passes the
channels, caches the answer and turns the errors into responses (containers/package_search.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import rattler

from .plan import SUBDIRS as PLATFORM_SUBDIRS
from .solve import RATTLER_ERRORS

SUBDIRS = tuple(PLATFORM_SUBDIRS.values())


class ChannelUnreachable(Exception):
    pass


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    platforms: tuple[str, ...]
    channel: str


def _rank(name: str, query: str) -> tuple[int, int, str]:
    """Exact name first, then names starting with the query, then the rest; shorter before longer."""
    return (0 if name == query else 1 if name.startswith(query) else 2, len(name), name)


async def search(channels: list[str], channel_alias: str, subdir: str, query: str, limit: int,
                 cache_dir: Path) -> tuple[list[Package], bool]:
    """Up to `limit` packages whose name contains `query` (lower case), for `subdir` and noarch; and
    whether more matched. A channel that cannot be read raises ChannelUnreachable naming it."""
    config = rattler.ChannelConfig(channel_alias=channel_alias)
    sources = [rattler.Channel(name, config) for name in channels]
    gateway = rattler.Gateway(cache_dir=cache_dir)  # per search: its repodata revalidated on disk, not held in memory
    platforms = [subdir, "noarch"]
    try:
        names = sorted({n.normalized for n in await gateway.names(sources, platforms) if query in n.normalized},
                       key=lambda n: _rank(n, query))
        records = await gateway.query(sources, platforms, names[:limit], recursive=False) if names else []
    except RATTLER_ERRORS as exc:
        reason = str(exc).splitlines()[0]
        raise ChannelUnreachable(f"The conda channels {', '.join(channels)} cannot be read: {reason}") from None
    found: dict[str, list] = {}
    for per_channel in records:
        for record in per_channel:
            found.setdefault(record.name.normalized, []).append(record)
    packages = []
    for name in names[:limit]:
        if name not in found:
            continue
        latest = max(found[name], key=lambda r: r.version)
        platforms_of = tuple(sorted({r.subdir for r in found[name]}))
        packages.append(Package(name, str(latest.version), platforms_of, latest.channel))
    return packages, len(names) > limit
