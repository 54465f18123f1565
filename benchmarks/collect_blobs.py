"""Blob collector benchmark: one `collect_blobs` round over 500 old blobs among 2,000, with 21,000
live requests of which 1,000 name one of them, in the test database (it makes those rows itself).

    scripts/stack test benchmarks/collect_blobs.py -s -q

Prints (blobs deleted, milliseconds) for four rounds: the first two find only referenced blobs.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from containers.lifecycle import collect_blobs
from builds.models import StoredBlob
from containers.models import ContainerRequest

pytestmark = pytest.mark.django_db


def test_collect_blobs_round(settings):
    settings.WAVE_STORED_BLOB_GRACE = 60
    old = timezone.now() - timedelta(hours=2)
    digests = ["sha256:" + uuid.uuid4().hex * 2 for _ in range(2000)]
    StoredBlob.objects.bulk_create(StoredBlob(digest=d, size=1, key=f"bench/{d}", created_at=old) for d in digests)
    live = timezone.now() + timedelta(hours=30)
    ContainerRequest.objects.bulk_create(
        ContainerRequest(endpoint="x", request={}, platform="linux/amd64", target_image="t", expires_at=live,
                         container_config={"layers": [{"gzipDigest": d, "location": "data:<1 bytes>"}]})
        for d in digests[:1000]
    )
    ContainerRequest.objects.bulk_create(
        ContainerRequest(endpoint="x", request={}, platform="linux/amd64", target_image="t", expires_at=live)
        for _ in range(20000)
    )
    rounds = []
    for _ in range(4):
        started = time.perf_counter()
        deleted = collect_blobs()
        rounds.append((deleted, round((time.perf_counter() - started) * 1000, 1)))
    print("rounds (deleted, ms):", rounds)
