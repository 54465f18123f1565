"""Stored blobs (`StoredBlob`) are collected once nothing needs them: a housekeeping task.

A blob is needed while a live request (token neither expired nor revoked) or an unfinished build
names it (a `containerConfig` layer, a `buildContext`), and for `WAVE_STORED_BLOB_GRACE` seconds
after it was last stored or reused. `created_at` is that stamp: `layers.keep`, `layers._already_verified`
and the proxy's rewritten configs set it again each time they use a blob. The grace period covers a
request between storing its blobs and committing its row, and a rewritten config, which no row names
(it is made again, and stamped again, whenever its token's manifest is resolved after the cache's hour).

The delete re-checks the stamp in the same statement: a blob reused meanwhile has a fresh stamp, and
Postgres re-evaluates the condition on the row the concurrent UPDATE left, so it stays. A referenced
blob is stamped too, so each run looks at the next `WAVE_COLLECT_BATCH` oldest ones, not the same
referenced ones again. Two housekeepers at once delete what either would, once.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from builds.blobs import delete_keys
from builds.models import Build, StoredBlob

from .models import ContainerRequest

# The digests among %(digests)s that rows of a table name in a layer list or as a build context, in one
# scan of those rows (not one containment test per digest: 2 s a round with 20,000 live requests).
_NAMED = """
SELECT layer ->> 'gzipDigest' FROM {table} r,
  jsonb_array_elements(CASE WHEN jsonb_typeof(r.{layers}) = 'array' THEN r.{layers} ELSE '[]' END) layer
  WHERE {alive} AND layer ->> 'gzipDigest' = ANY(%(digests)s)
UNION
SELECT r.{context} ->> 'gzipDigest' FROM {table} r
  WHERE {alive} AND r.{context} ->> 'gzipDigest' = ANY(%(digests)s)
"""
_BY_REQUEST = _NAMED.format(
    table=ContainerRequest._meta.db_table, layers="container_config -> 'layers'", context="request -> 'buildContext'",
    alive="r.revoked_at IS NULL AND r.expires_at > %(now)s",
)
_BY_BUILD = _NAMED.format(
    table=Build._meta.db_table, layers="context -> 'layers'", context="context -> 'buildContext'",
    alive="r.status IN ('PENDING', 'RUNNING')",
)


def referenced(digests: set[str]) -> set[str]:
    """Those of `digests` a live request or an unfinished build names."""
    if not digests:
        return set()
    found: set[str] = set()
    with connection.cursor() as cursor:
        for query in (_BY_REQUEST, _BY_BUILD):
            cursor.execute(query, {"digests": list(digests), "now": timezone.now()})
            found.update(digest for (digest,) in cursor.fetchall())
    return found


def collect_blobs() -> int:
    """Delete up to one batch of blobs nothing needs; returns how many were deleted."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.WAVE_STORED_BLOB_GRACE)
    keys = dict(
        StoredBlob.objects.filter(created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("digest", "key")[: settings.WAVE_COLLECT_BATCH]
    )
    candidates = set(keys)
    kept = referenced(candidates)
    if kept:
        StoredBlob.objects.filter(digest__in=kept).update(created_at=now)
    deleted, _ = StoredBlob.objects.filter(digest__in=candidates - kept, created_at__lt=cutoff).delete()
    # Then the bytes of exactly the rows that went (a row made again has a key of its own). A store
    # down here leaves them behind, unreferenced: the error is the housekeeper's to report.
    remaining = set(StoredBlob.objects.filter(key__in=keys.values()).values_list("key", flat=True))
    delete_keys(key for key in keys.values() if key not in remaining)
    return deleted
