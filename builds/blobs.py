"""The bytes of stored blobs live in the object store; the `StoredBlob` row is their index (digest,
size, stamp, the key of its bytes) — README, Object storage.

Each row has a key of its own (`blobs/sha256/<hex>/<random>`): bytes go up first, then the row is
made, so a row never names absent bytes; the collector deletes a row and then exactly that row's key,
so a row made again meanwhile (a new key) keeps its bytes.
"""

from __future__ import annotations

import uuid
from typing import BinaryIO, Iterable

from wave_site.storage import Missing, store

from .models import StoredBlob


def new_key(digest: str) -> str:
    return f"blobs/{digest.replace(':', '/')}/{uuid.uuid4().hex}"


def put(digest: str, data: bytes, **fields) -> tuple[StoredBlob, bool]:
    """The blob's row, made with its bytes unless it exists; True when this call made it."""
    if existing := StoredBlob.objects.filter(digest=digest).first():
        return existing, False
    key = new_key(digest)
    store().put_bytes(key, data)
    blob, created = StoredBlob.objects.get_or_create(digest=digest, defaults={"size": len(data), "key": key, **fields})
    if not created:  # another request stored it meanwhile
        store().delete(key)
    return blob, created


def open_blob(digest: str) -> BinaryIO | None:
    """A stored blob's bytes as a stream; None when it is not stored."""
    blob = StoredBlob.objects.filter(digest=digest).only("key").first()
    if blob is None:
        return None
    try:
        return store().open(blob.key)
    except Missing:
        return None


def read_blob(digest: str) -> bytes | None:
    if (stream := open_blob(digest)) is None:
        return None
    with stream:
        return stream.read()


def delete_keys(keys: Iterable[str]) -> None:
    store().delete_many(keys)
