"""Usage events, written where they happen: a row in Postgres and the Redis counters."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.utils import timezone

from containers.tokens import TokenInfo

from . import counters
from .models import PullEvent

log = logging.getLogger(__name__)
_pending: set[asyncio.Task] = set()


def record_pull(info: TokenInfo, digest: str, ip_address: str | None) -> None:
    event = PullEvent.objects.create(
        token=info.token,
        user_id=info.user_id,
        org=info.org,
        image=info.image,
        digest=digest,
        platform=info.platform,
        fusion=info.fusion,
        ip_address=ip_address,
    )
    day = timezone.localdate(event.created_at)
    counters.increment("pulls", info.org or None, day)
    if info.fusion:
        counters.increment("fusion", info.org or None, day)


def record_build(org: str | None, created_at) -> None:
    counters.increment("builds", org or None, timezone.localdate(created_at))


def record_pull_soon(info: TokenInfo, digest: str, ip_address: str | None) -> None:
    """Record a pull without holding up the response that serves it (the insert runs beside it)."""

    async def write() -> None:
        try:
            await sync_to_async(record_pull)(info, digest, ip_address)
        except Exception:  # an event lost must not be a pull lost; say so in the log
            log.exception("could not record a pull of %s", info.image)

    task = asyncio.get_running_loop().create_task(write())
    _pending.add(task)
    task.add_done_callback(_pending.discard)
