"""What a container token grants: its reference, and exactly the manifests and blobs reachable from
the image it serves (index → manifests → config and layers), nothing else of the repository.

The set is computed from the manifests the proxy resolves anyway, once per resolution, and kept in
Redis as one hash (digest → kind) beside the manifest cache and as long; a lookup is one HMGET.
Every stored set has a `*` field, so an absent set (expired, evicted, Redis away) is told apart
from an absent digest: the first makes the proxy resolve the image again and recompute the set, the
second is a 404. A miss never allows.
"""

from __future__ import annotations

from collections.abc import Iterable

from oci.client import Manifest
from wave_site.redis import ERRORS, async_redis, unavailable

MANIFEST, BLOB, OWN_BLOB = "m", "b", "o"  # OWN_BLOB: made by this service, served from Postgres
_PRESENT = "*"


def key(token: str) -> str:
    return f"wave:grant:{token}"


def _digests(doc: dict) -> list[str]:
    """The config and layer digests of an image manifest (the ones a client fetches as blobs)."""
    descriptors = [doc.get("config"), *(doc.get("layers") or [])]
    return [d["digest"] for d in descriptors if isinstance(d, dict) and isinstance(d.get("digest"), str)]


def children(index: Manifest) -> list[str]:
    """The manifest digests an index lists."""
    entries = index.json.get("manifests") or []
    return [e["digest"] for e in entries if isinstance(e, dict) and isinstance(e.get("digest"), str)]


def reachable(served: Iterable[Manifest], own: set[str]) -> dict[str, str]:
    """digest → kind for every manifest served under the token (the index and all its entries,
    fetched) and every blob those manifests name; `own` are the blobs the service made."""
    kinds: dict[str, str] = {}
    for manifest in served:
        kinds[manifest.digest] = MANIFEST
    for manifest in served:
        if not manifest.is_index:
            for digest in _digests(manifest.json):
                kinds.setdefault(digest, OWN_BLOB if digest in own else BLOB)
    return kinds


def store(pipe, token: str, kinds: dict[str, str], ttl: int) -> None:
    """Queue the replacement of the token's set on a (transactional) pipeline."""
    pipe.delete(key(token))
    pipe.hset(key(token), mapping={**kinds, _PRESENT: "1"})
    pipe.expire(key(token), ttl)


async def lookup(token: str, digest: str) -> tuple[bool, str | None]:
    """(is the token's set stored, the digest's kind in it)."""
    try:
        kind, present = await async_redis().hmget(key(token), [digest, _PRESENT])
    except ERRORS as exc:
        unavailable("manifest_cache", exc)
        return False, None
    return present is not None, kind.decode() if kind else None
