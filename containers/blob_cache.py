"""The blob cache: large upstream blobs copied once into the object store, later pulls redirected.

A blob of at least WAVE_BLOB_CACHE_MIN_SIZE bytes that streams through `/v2/` is copied by a
background job (`copy_blob`) into the store under its digest, shared by every token that grants it;
the job hashes what it downloaded and records the blob only when the digest matches. Later GETs
answer 307 to a presigned URL made for that request (never a stored one, so never an expired one).

Records live in Redis: `wave:blobcache:<digest>` = "<size> <checked at>", kept for RECORD_TTL.
A record older than WAVE_BLOB_CACHE_RECHECK seconds is checked against the store (one HEAD) before
it is used again: a blob gone from the store is forgotten, streamed and copied again.

A record says the bytes exist, not that this token may have them from its upstream: a token's
grant comes from manifests, and a manifest can name any digest (someone who learnt the digest of a
private layer could push an image naming it). So a token gets the redirect only after its own
upstream has answered for that digest with the token's credentials: the streamed first pull, or
one HEAD, remembered in `wave:blobcache:seen:<token>` as long as the token's manifests are cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import time
from pathlib import Path

import django_rq
from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.identity import Identity
from accounts.models import User, Workspace
from oci.download import TooLarge
from registries.upstream import client_for
from wave_site import storage
from wave_site.redis import ERRORS, async_redis, sync_redis, unavailable

from .tokens import TokenInfo

log = logging.getLogger(__name__)

RECORD_TTL = 30 * 24 * 3600  # seconds an unused record is kept; the store keeps the bytes regardless
SEEN_TTL = 3600  # as long as the token's cached manifests and grant (proxy.MANIFEST_TTL)
RETRY_AFTER = 60  # seconds before a failed copy may be queued again


def store_key(digest: str) -> str:
    algorithm, _, hex_digest = digest.partition(":")
    return f"blobs/{algorithm}/{hex_digest}"


def _record_key(digest: str) -> str:
    return f"wave:blobcache:{digest}"


def _seen_key(token: str) -> str:
    return f"wave:blobcache:seen:{token}"


def _copying_key(digest: str) -> str:
    return f"wave:blobcache:copying:{digest}"


def _record(size: int) -> str:
    return f"{size} {time.time():.0f}"


def _redirects() -> bool:
    """Only a store that makes presigned URLs takes the bytes off the web process (the filesystem
    store does not: its blobs keep streaming, and nothing is copied into it)."""
    return settings.WAVE_BLOB_CACHE and storage.store().presigned_get(store_key("sha256:0"), 1) is not None


# --- the pull path ----------------------------------------------------------------------------


async def redirect_url(info: TokenInfo, digest: str, confirm) -> str | None:
    """A fresh presigned URL for a cached blob this token may have, else None (stream it).
    `confirm()` asks the token's upstream whether it holds the blob (True/False)."""
    if not settings.WAVE_BLOB_CACHE:
        return None
    try:
        async with async_redis().pipeline(transaction=False) as pipe:
            pipe.get(_record_key(digest))
            pipe.sismember(_seen_key(info.token), digest)
            record, seen = await pipe.execute()
    except ERRORS as exc:
        unavailable("blob_cache", exc)
        return None
    if record is None:
        return None
    size, checked = (int(part) for part in record.split())
    if not seen:
        if not await confirm():
            return None
        await _seen(info.token, digest)
    if time.time() - checked > settings.WAVE_BLOB_CACHE_RECHECK:
        if not await _still_stored(digest, size):
            return None
    # Signing is local (an HMAC over the URL, no request to the store): no thread needed.
    return storage.store().presigned_get(store_key(digest), settings.WAVE_BLOB_CACHE_URL_TTL)


async def _still_stored(digest: str, size: int) -> bool:
    """Whether the store still holds the recorded object; a store that does not answer is asked
    again on the next pull, and this one streams."""
    try:
        actual = await sync_to_async(storage.store().size, thread_sensitive=False)(store_key(digest))
    except storage.Unreachable as exc:
        log.warning("blob cache: %s; streaming %s", exc, digest)
        return False
    try:
        if actual != size:
            log.warning("cached blob %s is %s in the store, recorded %d bytes: forgotten, copied again", digest, actual, size)
            await async_redis().delete(_record_key(digest))
            return False
        await async_redis().set(_record_key(digest), _record(size), ex=RECORD_TTL)
    except ERRORS as exc:
        unavailable("blob_cache", exc)
        return False
    return True


async def _seen(token: str, digest: str) -> None:
    try:
        async with async_redis().pipeline(transaction=False) as pipe:
            pipe.sadd(_seen_key(token), digest)
            pipe.expire(_seen_key(token), SEEN_TTL)
            await pipe.execute()
    except ERRORS as exc:
        unavailable("blob_cache", exc)


async def streamed(info: TokenInfo, digest: str, size: int | None, source: tuple[str, str]) -> None:
    """The token's upstream just answered a GET for the blob: remember that, and queue its copy
    when it is large enough and not cached or being copied."""
    if size is None or size < settings.WAVE_BLOB_CACHE_MIN_SIZE or not _redirects():
        return
    await _seen(info.token, digest)
    try:
        if await async_redis().exists(_record_key(digest)):
            return
        if not await async_redis().set(_copying_key(digest), "1", nx=True, ex=settings.WAVE_BLOB_CACHE_TIMEOUT):
            return
    except ERRORS as exc:
        unavailable("blob_cache", exc)
        return
    registry, path = source
    try:
        await sync_to_async(enqueue_copy, thread_sensitive=False)(digest, registry, path, info.user_id, info.workspace_id, size)
    except ERRORS as exc:
        unavailable("blob_cache", exc)


def enqueue_copy(digest: str, registry: str, path: str, user_id: int | None, workspace_id: int | None, size: int) -> None:
    """Ids and names only: the job reads the owner's credentials itself, none travel in the queue."""
    django_rq.get_queue(settings.WAVE_BLOB_CACHE_QUEUE).enqueue(
        "containers.blob_cache.copy_blob", digest, registry, path, user_id, workspace_id, size,
        job_id=f"blobcache-{digest.replace(':', '-')}", job_timeout=settings.WAVE_BLOB_CACHE_TIMEOUT,
        result_ttl=600, failure_ttl=24 * 3600,
    )


def total_size(headers: dict[str, str]) -> int | None:
    """The blob's whole size from a 200's Content-Length or a 206's Content-Range."""
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("content-range", "").rpartition("/")[2] or lowered.get("content-length", "")
    return int(value) if value.isdigit() else None


# --- the job ----------------------------------------------------------------------------------


def copy_blob(digest: str, registry: str, path: str, user_id: int | None, workspace_id: int | None, size: int) -> str:
    """Copy the blob from `registry`/`path` (read with the owner's stored credentials) into the store,
    and record it once its bytes hash to `digest`; no more than the `size` bytes it was pulled as is
    written (an upstream that sends more is refused before it fills the disk). Safe to run twice: a
    recorded blob still in the store is not copied again. Returns what it did, for the job's result."""
    redis = sync_redis()
    done = False
    try:
        done, outcome = _copy(redis, digest, registry, path, user_id, workspace_id, size)
        return outcome
    finally:
        if done:
            redis.delete(_copying_key(digest))
        else:  # not queued again for a while, however many pulls ask meanwhile
            redis.set(_copying_key(digest), "1", ex=RETRY_AFTER)


def _copy(redis, digest: str, registry: str, path: str, user_id: int | None, workspace_id: int | None, limit: int) -> tuple[bool, str]:
    key = store_key(digest)
    record = redis.get(_record_key(digest))
    if record is not None and storage.store().size(key) == int(record.split()[0]):
        return True, "already cached"
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user_id and user is None:
        return False, "owner gone: not copied"
    workspace = Workspace.objects.filter(pk=workspace_id).first() if workspace_id else None
    client = client_for(Identity(user, workspace), registry)
    with tempfile.TemporaryDirectory(prefix="blobcache-", dir=_scratch()) as scratch:
        file = Path(scratch) / "blob"
        try:
            got, size = asyncio.run(_download(client, path, digest, file, limit))
        except TooLarge:
            log.warning("blob %s of %s/%s sent more than the %d bytes it was pulled as: not cached", digest, registry, path, limit)
            return False, f"larger than {limit} bytes: not cached"
        if got != digest:
            log.warning("blob %s of %s/%s hashed to %s: not cached", digest, registry, path, got)
            return False, f"digest mismatch ({got}): not cached"
        storage.store().put_file(key, file)
    redis.set(_record_key(digest), _record(size), ex=RECORD_TTL)
    return True, f"cached {size} bytes"


def _scratch() -> Path:
    folder = settings.WAVE_DATA_DIR / "blobcache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _download(client, path: str, digest: str, file: Path, limit: int) -> tuple[str, int]:
    """Stream the blob into `file`: (the digest of what arrived, its size); `TooLarge` past `limit`."""
    sha, size = hashlib.sha256(), 0
    async with client:
        response = await client.open_blob(path, digest)
        try:
            with file.open("wb") as out:
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(limit)
                    sha.update(chunk)
                    out.write(chunk)
        finally:
            await response.aclose()
    return "sha256:" + sha.hexdigest(), size

