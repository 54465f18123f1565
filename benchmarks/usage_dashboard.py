"""Usage dashboard benchmark: what one dashboard's numbers cost with 200,000 pull events over 200 days
in 40 orgs (plus 20,000 builds), in the test database (it makes those rows itself).

    scripts/stack test benchmarks/usage_dashboard.py -s -q

Prints the median milliseconds of 5 runs, for a 7-day and a 90-day window, of an org's per-day series
(`usage.daily`, what the charts and the CSV read), its top lists (`usage.top`) and the operators' index
(`usage.per_org`).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from builds.models import Build
from metrics import usage
from metrics.models import PullEvent

pytestmark = pytest.mark.django_db

EVENTS, DAYS, ORGS = 200_000, 200, 40


def median_ms(work, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def test_usage_dashboard_queries():
    now = timezone.now()
    PullEvent.objects.bulk_create(
        (PullEvent(token="t", org=f"org{i % ORGS}.example", image=f"img{i % 97}:1", digest="sha256:" + "0" * 64,
                   platform="linux/amd64", fusion=i % 7 == 0, created_at=now - timedelta(minutes=i * DAYS * 1440 // EVENTS))
         for i in range(EVENTS)),
        batch_size=5000,
    )
    Build.objects.bulk_create(
        (Build(id=f"{i:016x}_1", content_hash=f"{i:016x}", number=1, container_file="FROM x\n", platform="linux/amd64",
               build_repository="r", target_image="r:t", org=f"org{i % ORGS}.example", created_at=now - timedelta(minutes=i * 14))
         for i in range(EVENTS // 10)),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE metrics_pullevent; ANALYZE builds_build")
    for days in (7, 90):
        window = usage.Window.last(days)
        print(
            f"{days} days, ms: daily {median_ms(lambda: usage.daily('org1.example', window))}, "
            f"top {median_ms(lambda: usage.top('org1.example', window))}, per_org {median_ms(lambda: usage.per_org(window))}"
        )
