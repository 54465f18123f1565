"""What the pull path needs to know about a token, cached in Redis until the token expires.

Postgres keeps the request; Redis keeps this small record so that a pull reads no table. Revoking a
token replaces the record with a tombstone that lives as long as the token would have, and a record is
only ever written where there is none (SET NX), so a pull that read the request just before it was
revoked cannot put the record back. When Redis is away, pulls read the request from Postgres, which
knows about revocation and expiry; a revocation needs Redis (see `revoke`).

A record is trusted for WAVE_TOKEN_RECHECK seconds, then read again from Postgres with its user and
API token: a user deactivated, or an API token revoked, by a path that bypasses the model signals
(a bulk `update()`, SQL) stops the token within that time (`signals` stops it at once otherwise).
Records carry a VERSION; one of another version (written by an older or newer release) is not
trusted: its request is read from Postgres and the record replaced, unless it changed meanwhile.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import WatchError

from builds.models import without_large_fields
from oci.reference import parse_reference
from wave_site.redis import ERRORS, async_redis, sync_redis, unavailable

from .includes import source_of
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
    def own_layer_digests(self) -> frozenset[str]:
        """The added layers this service stores (included layers stay in their own repositories)."""
        layers = (self.config or {}).get("layers") or []
        return frozenset(layer["gzipDigest"] for layer in layers if not source_of(layer["location"]))


VERSION = 2  # of the record's fields; 1 was unversioned


def _key(token: str) -> str:
    return f"wave:token:{token}"


REVOKED = b"revoked"  # the tombstone
TOMBSTONE_TTL = 3600  # seconds, for a token without an expiry


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


def _record(info: TokenInfo) -> tuple[bytes, int]:
    """The cached value and its lifetime (0: not worth caching)."""
    ttl = min(int(info.expires_at - time.time()), settings.WAVE_TOKEN_RECHECK)
    return json.dumps({"v": VERSION, **asdict(info)}).encode(), max(ttl, 0)


def cache_token(info: TokenInfo) -> None:
    """Cache the record unless one (or a tombstone) is there; without Redis, pulls read Postgres."""
    value, ttl = _record(info)
    if ttl <= 0:
        return
    try:
        sync_redis().set(_key(info.token), value, ex=ttl, nx=True)
    except ERRORS as exc:
        unavailable("token", exc)


def _replace_record(info: TokenInfo, stale: bytes) -> None:
    """Put the current record where `stale` (another version's) still is, and nowhere else: never
    over a tombstone written since it was read."""
    value, ttl = _record(info)
    try:
        with sync_redis().pipeline() as pipe:
            pipe.watch(_key(info.token))
            if pipe.get(_key(info.token)) != stale:
                return
            pipe.multi()
            if ttl > 0:
                pipe.set(_key(info.token), value, ex=ttl)
            else:
                pipe.delete(_key(info.token))
            pipe.execute()
    except WatchError:
        pass  # it changed meanwhile: whatever is there now is newer
    except ERRORS as exc:
        unavailable("token", exc)


def forget_token(token: str) -> None:
    """Drop the cached record (the request changed): the next pull caches it again from Postgres."""
    sync_redis().delete(_key(token))


def bury_token(token: str, expires_at=None) -> None:
    """Make the cached record a tombstone until the token would have expired. Raises a Redis error
    when Redis is away: the caller must not report the token revoked then (see `revoke`)."""
    ttl = int(expires_at.timestamp() - time.time()) if expires_at else TOMBSTONE_TTL
    if ttl > 0:
        sync_redis().set(_key(token), REVOKED, ex=ttl)


def revoke(tokens) -> list[str]:
    """Revoke the live tokens among `tokens` (ContainerRequest rows or a queryset), in one transaction
    that commits only once Redis holds their tombstones: a revocation Redis did not hear of would let
    a cached record keep the token pullable. Returns the tokens revoked."""
    with transaction.atomic():
        rows = list(tokens.filter(revoked_at__isnull=True).select_for_update().values_list("token", "expires_at"))
        ContainerRequest.objects.filter(token__in=[t for t, _ in rows]).update(revoked_at=timezone.now())
        for token, expires_at in rows:
            bury_token(token, expires_at)
    return [t for t, _ in rows]


def _pullable(request: ContainerRequest | None) -> bool:
    """Live, and its user (if any) active and the API token it was issued under (if any) unrevoked."""
    if request is None or not request.is_live:
        return False
    if request.user is not None and not request.user.is_active:
        return False
    return request.api_token is None or request.api_token.revoked_at is None


def _load_from_database(token: str, stale: bytes | None = None) -> TokenInfo | None:
    """The record from Postgres, cached; `stale` is another version's record it replaces."""
    request = (
        ContainerRequest.objects.select_related("build", "user", "api_token")
        .defer(*without_large_fields("build__"))
        .filter(token=token)
        .first()
    )
    if not _pullable(request):
        return None
    info = token_info(request)
    if stale:
        _replace_record(info, stale)
    else:
        cache_token(info)
    return info


def _current(raw: bytes) -> TokenInfo | None:
    """The record, or None when it is of another version."""
    fields = json.loads(raw)
    if fields.pop("v", None) != VERSION:
        return None
    return TokenInfo(**fields)


async def _cached(token: str) -> bytes | None:
    try:
        return await async_redis().get(_key(token))
    except ERRORS as exc:
        unavailable("token", exc)
        return None


async def load_token(token: str) -> TokenInfo | None:
    """The live token's record, or None for an unknown, revoked or expired token."""
    raw = await _cached(token)
    if raw == REVOKED:
        return None
    info = _current(raw) if raw else None
    if info is None:
        info = await sync_to_async(_load_from_database)(token, raw)
    if info is None or info.expires_at <= time.time():
        return None
    return info
