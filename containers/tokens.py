"""What the pull path needs to know about a token, cached in Redis until the token expires.

Postgres keeps the request; Redis keeps this small record so that a pull reads no table. Revoking a
token deletes the record, and a record is only ever rebuilt from a live request.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass

from asgiref.sync import sync_to_async
from django.conf import settings

from builds.models import without_large_fields
from oci.reference import parse_reference
from wave_site.redis import async_redis, sync_redis

from .models import ContainerRequest


@dataclass(frozen=True)
class TokenInfo:
    token: str
    registry: str  # where the image really is
    path: str  # its repository path, also the name clients use after /wt/<token>/
    reference: str  # the tag or digest the token grants
    platform: str
    config: dict | None  # containerConfig without inline layer data
    user_id: int | None
    workspace_id: int | None
    org: str
    expires_at: float
    build_id: str | None
    fusion: bool

    @property
    def image(self) -> str:
        separator = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.registry}/{self.path}{separator}{self.reference}"

    @property
    def augmented(self) -> bool:
        return bool(self.config)

    @property
    def layer_digests(self) -> frozenset[str]:
        return frozenset(layer["gzipDigest"] for layer in (self.config or {}).get("layers") or [])


def _key(token: str) -> str:
    return f"wave:token:{token}"


def is_fusion(config: dict | None) -> bool:
    pattern = settings.WAVE_FUSION_PATTERN
    return any(re.match(pattern, layer.get("location", "")) for layer in (config or {}).get("layers") or [])


def token_info(request: ContainerRequest) -> TokenInfo:
    ref = parse_reference(request.build.target_image if request.build_id else request.container_image)
    return TokenInfo(
        token=request.token,
        registry=ref.registry,
        path=ref.path,
        reference=ref.reference,
        platform=request.platform,
        config=request.container_config or None,
        user_id=request.user_id,
        workspace_id=request.workspace_id,
        org=request.org,
        expires_at=request.expires_at.timestamp() if request.expires_at else time.time() + 3600,
        build_id=request.build_id,
        fusion=is_fusion(request.container_config),
    )


def cache_token(info: TokenInfo) -> None:
    ttl = int(info.expires_at - time.time())
    if ttl > 0:
        sync_redis().set(_key(info.token), json.dumps(asdict(info)), ex=ttl)


def forget_token(token: str) -> None:
    sync_redis().delete(_key(token))


def _load_from_database(token: str) -> TokenInfo | None:
    request = ContainerRequest.objects.select_related("build").defer(*without_large_fields("build__")).filter(token=token).first()
    if request is None or not request.is_live:
        return None
    info = token_info(request)
    cache_token(info)
    return info


async def load_token(token: str) -> TokenInfo | None:
    """The live token's record, or None for an unknown, revoked or expired token."""
    raw = await async_redis().get(_key(token))
    info = TokenInfo(**json.loads(raw)) if raw else await sync_to_async(_load_from_database)(token)
    if info is None or info.expires_at <= time.time():
        return None
    return info
