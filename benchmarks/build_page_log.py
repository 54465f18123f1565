"""The build page's log with each line's time: what rendering the shown 100,000 characters as a span
per line costs, against the same page with an empty log, measured in the same run.

    scripts/stack test benchmarks/build_page_log.py -s -q

Prints, for a log of 80-character lines and for the worst case of empty lines (a mark every 10
lines): the page's time with the log and without (ms, the median of ROUNDS), their ratio, and the
page's size.
"""

from __future__ import annotations

import statistics
import time

import pytest
from django.test import Client
from django.utils import timezone

from builds.models import Build
from builds.pages import LOG_SHOWN
from tests.support.factories import BuildFactory, UserFactory

ROUNDS = 10


def page_ms(client, build_id: str) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(f"/view/builds/{build_id}")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        size = len(response.content)
    return statistics.median(times), size


@pytest.mark.django_db
@pytest.mark.parametrize("width", [80, 1])
def test_the_timed_log_on_the_build_page(width):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    line = "x" * (width - 1) + "\n"
    count = LOG_SHOWN // width
    now = timezone.now()
    marks = [[n * width, now.timestamp() + n // 10] for n in range(0, count, 10)]
    timed = BuildFactory(status=Build.Status.SUCCEEDED, user=user, org=user.org, finished_at=now, log=line * count, log_times=marks)
    empty = BuildFactory(status=Build.Status.SUCCEEDED, user=user, org=user.org, finished_at=now, log="")
    page_ms(client, empty.id)  # warm-up: templates, the session
    base, base_size = page_ms(client, empty.id)
    with_log, size = page_ms(client, timed.id)
    print(f"{count:,} lines of {width} characters: page {with_log:.1f} ms ({size / 1024:.0f} KiB) against "
          f"{base:.1f} ms ({base_size / 1024:.0f} KiB) with an empty log: {with_log / base:.2f}x")
