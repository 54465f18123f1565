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
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from builds.models import Build

from .models import ContainerRequest, StoredBlob


def _named(config: dict | None, body: dict | None) -> set[str]:
    """Digests a request's (or a build's) layers and build context name."""
    layers = (config or {}).get("layers") or []
    names = {layer.get("gzipDigest") for layer in layers if isinstance(layer, dict)}
    context = (body or {}).get("buildContext")
    if isinstance(context, dict):
        names.add(context.get("gzipDigest"))
    return names - {None}


def referenced(digests: set[str]) -> set[str]:
    """Those of `digests` a live request or an unfinished build names (two queries)."""
    if not digests:
        return set()
    by_request = reduce(or_, (
        Q(container_config__layers__contains=[{"gzipDigest": d}]) | Q(request__buildContext__gzipDigest=d) for d in digests
    ))
    by_build = reduce(or_, (
        Q(context__layers__contains=[{"gzipDigest": d}]) | Q(context__buildContext__gzipDigest=d) for d in digests
    ))
    live = ContainerRequest.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
    found: set[str] = set()
    for config, body in live.filter(by_request).values_list("container_config", "request"):
        found |= _named(config, body)
    unfinished = Build.objects.filter(status__in=[Build.Status.PENDING, Build.Status.RUNNING])
    for context in unfinished.filter(by_build).values_list("context", flat=True):
        found |= _named(context, context)
    return found & digests


def collect_blobs() -> int:
    """Delete up to one batch of blobs nothing needs; returns how many were deleted."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.WAVE_STORED_BLOB_GRACE)
    candidates = set(
        StoredBlob.objects.filter(created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("digest", flat=True)[: settings.WAVE_COLLECT_BATCH]
    )
    kept = referenced(candidates)
    if kept:
        StoredBlob.objects.filter(digest__in=kept).update(created_at=now)
    deleted, _ = StoredBlob.objects.filter(digest__in=candidates - kept, created_at__lt=cutoff).delete()
    return deleted
