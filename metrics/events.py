"""Usage events, written where they happen."""

from __future__ import annotations

from containers.tokens import TokenInfo

from .models import PullEvent


def record_pull(info: TokenInfo, digest: str, ip_address: str | None) -> None:
    PullEvent.objects.create(
        token=info.token,
        user_id=info.user_id,
        org=info.org,
        image=info.image,
        digest=digest,
        platform=info.platform,
        fusion=info.fusion,
        ip_address=ip_address,
    )
