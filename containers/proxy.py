"""The pull path's store: manifests resolved (and augmented) per token, blobs local or upstream.

Manifests are cached in Redis per token and reference, so repeated pulls of a tag make no upstream
request; augmented manifests are serialised once and served as exactly those bytes. A token serves
only the manifests and blobs reachable from its image (`grant`). Blobs the service made itself
(added layers, rewritten configs) come from Postgres; every other blob streams from the upstream
registry. While Redis is away, manifests are resolved from the upstream on every pull, and so is
the reachable set on every blob request.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import timezone

from accounts.identity import Identity, credentials_for
from accounts.models import User, Workspace
from builds import blobs
from builds.models import Build, StoredBlob
from oci import errors, mediatypes
from oci.auth import Credentials
from oci.client import Manifest, RegistryClient
from oci.digest import is_digest, sha256_digest
from oci.mutate import ConfigChange, mutate_config, mutate_manifest, replace_in_index, select_platform
from oci.netguard import tls_context
from oci.platform import parse_platform
from oci.stream import BlobResponse, BlobStreamer
from wave_site.observability import MANIFEST_CACHE
from wave_site.redis import ERRORS, async_redis, unavailable

from . import blob_cache, grant
from .build_wait import wait_for_end
from .includes import source_of
from .models import ContainerRequest
from .tokens import TokenInfo
from registries.clients import address_policy, pooled

MANIFEST_TTL = 3600  # seconds a resolved manifest stays cached


class ProxyError(Exception):
    """An error for a registry client, in the OCI error format."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


# --- upstream clients -------------------------------------------------------------------------

def _credentials(info: TokenInfo, registry: str) -> Credentials | None:
    user = User.objects.filter(pk=info.user_id).first() if info.user_id else None
    workspace = Workspace.objects.filter(pk=info.workspace_id).first() if info.workspace_id else None
    return credentials_for(Identity(user, workspace), registry)


async def upstream_client(info: TokenInfo, registry: str | None = None) -> RegistryClient:
    """The pooled client (registries.clients) for the token's owner: its connections and bearer
    tokens are reused. `registry` is another registry than the token's image's (an included
    layer's), same credentials."""
    registry = registry or info.registry
    return await pooled(registry, (info.user_id, info.workspace_id), lambda: sync_to_async(_credentials)(info, registry))


# --- manifests --------------------------------------------------------------------------------


def _manifest_key(token: str, reference: str) -> str:
    return f"wave:manifest:{token}:{reference}"


def _encode(manifest: Manifest) -> bytes:
    return f"{manifest.media_type}\n{manifest.digest}\n".encode() + manifest.raw


def _decode(value: bytes) -> Manifest:
    media_type, digest, raw = value.split(b"\n", 2)
    return Manifest(media_type.decode(), raw, digest.decode())


async def _remember(info: TokenInfo, manifests: dict[str, Manifest], kinds: dict[str, str]) -> None:
    """Cache the resolved manifests and replace the token's reachable set, together."""
    try:
        async with async_redis().pipeline(transaction=True) as pipe:
            for reference, manifest in manifests.items():
                pipe.set(_manifest_key(info.token, reference), _encode(manifest), ex=MANIFEST_TTL)
            grant.store(pipe, info.token, kinds, MANIFEST_TTL)
            await pipe.execute()
    except ERRORS as exc:
        unavailable("manifest_cache", exc)


def _store_blob(data: bytes) -> str:
    """Store a rewritten config, or stamp it again: its collector's grace period counts from here."""
    digest = sha256_digest(data)
    if not StoredBlob.objects.filter(digest=digest).update(created_at=timezone.now()):
        blobs.put(digest, data)
    return digest


async def _augment(client: RegistryClient, info: TokenInfo, manifest: Manifest) -> tuple[Manifest, str]:
    """The augmented single-image manifest and the digest of its new config blob."""
    change = ConfigChange.from_container_config(info.config or {})
    config_digest = manifest.json["config"]["digest"]
    config = mutate_config(await client.get_blob(info.path, config_digest), change)
    new_config_digest = await sync_to_async(_store_blob)(config)
    return mutate_manifest(manifest, config, change), new_config_digest


def _record_wave_digest(token: str, digest: str) -> None:
    ContainerRequest.objects.filter(token=token, wave_digest="").update(wave_digest=digest)


async def _resolve_upstream(info: TokenInfo) -> tuple[dict[str, Manifest], dict[str, str]]:
    """Fetch the token's image, augment it when the token says so, and fetch every other entry of
    the index it serves; every reference that answers, and what the token grants (see `grant`).
    Both are cached."""
    client = await upstream_client(info)
    manifest = await client.get_manifest(info.path, info.reference)
    if manifest.media_type in mediatypes.SCHEMA1_TYPES:
        raise ProxyError(400, "MANIFEST_INVALID", f"Image '{info.image}' uses the Docker schema 1 format, which is not supported")
    own: set[str] = set()
    if not info.augmented:
        resolved = {info.reference: manifest, manifest.digest: manifest}
    elif manifest.is_index:
        platform = parse_platform(info.platform)
        entry = select_platform(manifest, platform)
        if entry is None:
            raise ProxyError(404, "MANIFEST_UNKNOWN", f"Image '{info.image}' has no manifest for platform {platform}")
        child, config_digest = await _augment(client, info, await client.get_manifest(info.path, entry["digest"]))
        index = replace_in_index(manifest, entry["digest"], child)
        resolved = {info.reference: index, index.digest: index, child.digest: child}
        wave_digest = child.digest
    else:
        image, config_digest = await _augment(client, info, manifest)
        resolved = {info.reference: image, image.digest: image}
        wave_digest = image.digest
    if info.augmented:
        own = {config_digest, *info.own_layer_digests}
        await sync_to_async(_record_wave_digest)(info.token, wave_digest)
    await _fetch_entries(client, info, resolved)
    kinds = grant.reachable(set(resolved.values()), own)
    _bounded(info, len(kinds))
    await _remember(info, resolved, kinds)
    return resolved, kinds


def _bounded(info: TokenInfo, count: int) -> None:
    if count > settings.WAVE_TOKEN_MAX_REACHABLE:
        raise ProxyError(
            400, "MANIFEST_INVALID",
            f"Image '{info.image}' names {count} manifests and blobs, more than a token grants (WAVE_TOKEN_MAX_REACHABLE={settings.WAVE_TOKEN_MAX_REACHABLE})",
        )


async def _fetch_entries(client: RegistryClient, info: TokenInfo, resolved: dict[str, Manifest]) -> None:
    """Add to `resolved` every manifest the served index lists (nested indexes too), as it is: the
    token grants them and their blobs, and the client asks for one of them next."""
    pending = [resolved[info.reference]]
    gate = asyncio.Semaphore(8)

    async def fetch(digest: str) -> Manifest:
        async with gate:
            return await client.get_manifest(info.path, digest)

    while pending:
        index = pending.pop()
        if not index.is_index:
            continue
        missing = [d for d in dict.fromkeys(grant.children(index)) if d not in resolved]
        _bounded(info, len({m.digest for m in resolved.values()}) + len(missing))
        for manifest in await asyncio.gather(*(fetch(d) for d in missing)):
            resolved[manifest.digest] = manifest
            pending.append(manifest)


async def wait_for_build(info: TokenInfo) -> None:
    """Wait, holding no thread and no database connection, until the token's build has ended; a
    failure is the pull's error. Bounded as the build is: its timeout, then its heartbeat's."""
    logs = f"{settings.WAVE_SERVER_URL}/v1alpha1/builds/{info.build_id}/logs"
    # The request's thread may hold a connection (its token was read from Postgres): not for the wait.
    await sync_to_async(connections.close_all)()
    deadline = time.monotonic() + settings.WAVE_BUILD_TIMEOUT + settings.WAVE_BUILD_HEARTBEAT_TIMEOUT
    state = await wait_for_end(info.build_id, deadline)
    if state is None:
        raise ProxyError(404, "MANIFEST_UNKNOWN", f"The build of this image has not finished in time; its log: {logs}")
    status, reason = state
    if status == Build.Status.FAILED:
        raise ProxyError(404, "MANIFEST_UNKNOWN", f"The build of this image failed ({reason}); its log: {logs}")


async def _resolve(info: TokenInfo) -> tuple[dict[str, Manifest], dict[str, str]]:
    if info.build_id:
        await wait_for_build(info)
    return await _resolve_upstream(info)


async def resolve_manifest(info: TokenInfo, reference: str) -> Manifest:
    """The manifest a client gets for `reference`: the token's tag, or a digest it grants."""
    try:
        cached = await async_redis().get(_manifest_key(info.token, reference))
    except ERRORS as exc:
        unavailable("manifest_cache", exc)
        cached = None
    MANIFEST_CACHE.labels("hit" if cached else "miss").inc()
    if cached:
        return _decode(cached)
    if not is_digest(reference) and reference != info.reference:
        raise ProxyError(404, "MANIFEST_UNKNOWN", f"Tag '{reference}' is not part of this container token; it grants '{info.image}'")
    if reference != info.reference:  # a digest: refused at once when the stored set lacks it
        stored, kind = await grant.lookup(info.token, reference)
        if stored and kind != grant.MANIFEST:
            raise ProxyError(404, "MANIFEST_UNKNOWN", f"Manifest '{reference}' is not part of '{info.image}'")
    resolved, _ = await _resolve(info)
    if reference not in resolved:
        raise ProxyError(404, "MANIFEST_UNKNOWN", f"Manifest '{reference}' is not part of '{info.image}'")
    return resolved[reference]


# --- blobs ------------------------------------------------------------------------------------


async def granted_blob(info: TokenInfo, digest: str) -> bytes | None:
    """A blob the token grants: its bytes when the service made it (an added layer or a rewritten
    config), None when it streams from upstream; a 404 when the token does not grant it."""
    stored, kind = await grant.lookup(info.token, digest)
    if not stored:  # the set expired or Redis is away: compute it again, never allow
        kind = (await _resolve(info))[1].get(digest)
    if kind not in (grant.BLOB, grant.OWN_BLOB):
        raise ProxyError(404, "BLOB_UNKNOWN", f"Blob '{digest}' is not part of '{info.image}'")
    return await sync_to_async(blobs.read_blob)(digest) if kind == grant.OWN_BLOB else None


_streamers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _streamer() -> BlobStreamer:
    loop = asyncio.get_running_loop()
    if loop not in _streamers:
        _streamers[loop] = BlobStreamer(address_policy(), tls_context(), settings.WAVE_UPSTREAM_TIMEOUT)
    return _streamers[loop]


def _blob_source(info: TokenInfo, digest: str) -> tuple[str | None, str]:
    """Where a blob lives: the token's image's repository, or an included layer's own."""
    for layer in (info.config or {}).get("layers") or []:
        if layer["gzipDigest"] == digest and (source := source_of(layer["location"])):
            return source
    return None, info.path


async def open_upstream_blob(info: TokenInfo, digest: str, method: str, range_header: str | None) -> BlobResponse:
    """The upstream's answer for a blob: headers, and for a GET a stream the caller reads or closes."""
    registry, path = _blob_source(info, digest)
    client = await upstream_client(info, registry)
    if method == "HEAD":
        response = await client.head_blob(path, digest)
        return BlobResponse(response.status_code, dict(response.headers))
    return await _streamer().open(client, path, digest, range_header)


async def cached_blob_url(info: TokenInfo, digest: str) -> str | None:
    """A presigned URL of the blob in the blob cache, when it is there and the token's upstream
    holds it too (`blob_cache`); None: stream it."""

    async def confirm() -> bool:
        try:
            await open_upstream_blob(info, digest, "HEAD", None)
        except errors.OciError:
            return False  # the streamed GET that follows answers with the upstream's own error
        return True

    return await blob_cache.redirect_url(info, digest, confirm)


async def blob_streamed(info: TokenInfo, digest: str, upstream: BlobResponse) -> None:
    """The upstream's answer to a GET was sent whole: a large blob is queued for the cache."""
    if upstream.status in (200, 206):
        registry, path = _blob_source(info, digest)
        await blob_cache.streamed(info, digest, blob_cache.total_size(upstream.headers), (registry or info.registry, path))
