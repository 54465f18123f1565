"""Archived build logs: what archiving costs, and what reading a log costs from the store instead of
Postgres, on the stack's SeaweedFS.

    scripts/stack test benchmarks/archive.py -s -q

Prints, for a log of WAVE_BUILD_LOG_LIMIT characters (4 MiB) and for a typical one (20 KiB): the
archive's time, the API's log read before and after (ms, the median of ROUNDS) and after/before.
"""

from __future__ import annotations

import statistics
import time

import pytest
from django.test import Client
from django.utils import timezone

from builds.archive import archive_build
from builds.models import Build
from tests.support.factories import BuildFactory
from wave_site.storage import store

ROUNDS = 20


def read_ms(client, build_id: str) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        assert client.get(f"/v1alpha1/builds/{build_id}/logs").status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [20 << 10, 4 << 20])
def test_archive_and_read_costs(size):
    line = "x" * 99 + "\n"
    build = BuildFactory(status=Build.Status.SUCCEEDED, finished_at=timezone.now(), log=line * (size // len(line)))
    client = Client()
    store().size("bench/warm-up")  # the S3 client's set-up is not the archive's cost
    before = read_ms(client, build.id)
    started = time.perf_counter()
    assert archive_build(build.id)
    archived = (time.perf_counter() - started) * 1000
    after = read_ms(client, build.id)
    print(f"log {size >> 10} KiB: archive {archived:.1f} ms; API read {before:.1f} ms in Postgres, {after:.1f} ms archived, after/before {after / before:.2f}")
