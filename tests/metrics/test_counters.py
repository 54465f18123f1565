"""The usage counters are derived from the events in Postgres: exact, current, and self-healing."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connections
from django.utils import timezone

from metrics import counters
from metrics.models import PullEvent
from wave_site.housekeeping import run_once
from tests.support.factories import BuildFactory, pulls

pytestmark = pytest.mark.django_db(transaction=True)


def app_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def build(org: str = "seqera.io", from_registry: bool = False) -> None:
    content_hash = uuid.uuid4().hex[:16]
    BuildFactory(content_hash=content_hash, org=org, from_registry=from_registry)


def stored(field: str) -> int:
    return int(app_redis().hget(counters.HASH, field) or 0)


@pytest.fixture(autouse=True)
def no_counters():
    counters.reset()  # another test's events are gone from the tables: so are their counts
    yield
    counters.reset()


def test_answers_are_exact_before_during_and_after_counting():
    pulls(3)
    pulls(2, org="gmail.com", fusion=True)
    pulls(1, org="")
    pulls(4, days_ago=3)
    build(), build(), build(org="gmail.com"), build(from_registry=True)
    today, earlier = timezone.localdate(), timezone.localdate() - timedelta(days=3)
    expected = {
        ("pulls", None, None): {"metric": "pulls", "count": 10, "orgs": {"seqera.io": 7, "gmail.com": 2}},
        ("pulls", today, None): {"metric": "pulls", "count": 6, "orgs": {"seqera.io": 3, "gmail.com": 2}},
        ("pulls", earlier, "seqera.io"): {"count": 4},
        ("pulls", None, "gmail.com"): {"metric": "pulls", "count": 2, "orgs": {"gmail.com": 2}},
        ("fusion", None, None): {"metric": "fusion", "count": 2, "orgs": {"gmail.com": 2}},
        ("builds", today, None): {"metric": "builds", "count": 3, "orgs": {"seqera.io": 2, "gmail.com": 1}},
        ("builds", None, "nowhere.org"): {"metric": "builds", "count": 0, "orgs": {}},
    }
    answers = lambda: {key: counters.query(*key) for key in expected}  # noqa: E731
    assert answers() == expected  # no cursor yet: from Postgres alone
    assert counters.advance() == 13  # 10 pulls, 3 builds
    assert (stored("pulls"), stored("fusion"), stored("builds"), stored("pulls/o/seqera.io")) == (10, 2, 3, 7)
    assert answers() == expected

    pulls(5)  # after the cursor: answered from Postgres until the next round counts them
    build(org="gmail.com")
    assert counters.query("pulls", None, None)["count"] == 15
    assert counters.query("builds", today, "gmail.com") == {"count": 2}
    assert counters.advance() == 6
    assert counters.advance() == 0
    assert stored("pulls") == 15 and stored("builds") == 4
    assert counters.query("pulls", today, "seqera.io") == {"count": 8}


def test_a_transaction_that_commits_late_is_counted_once_it_commits():
    db = settings.DATABASES["default"]
    late = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=db["NAME"])
    try:
        late.execute(
            "INSERT INTO metrics_pullevent (token, org, image, digest, platform, fusion, created_at) "
            "VALUES ('late', 'late.org', 'x', 'sha256:0', 'linux/amd64', false, now())"
        )  # inserted first, committed last
        pulls(3)
        counters.advance()
        late_xid = late.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
        assert int(app_redis().hget(counters.HASH, counters.CURSOR)) <= late_xid  # the cursor waits for it
        assert counters.query("pulls", None, None)["count"] == 3
        late.commit()
    finally:
        late.close()
    assert counters.query("pulls", None, None)["count"] == 4
    counters.advance()
    assert stored("pulls") == 4 and stored("pulls/o/late.org") == 1


def test_counts_lost_with_the_cursor_are_counted_again_exactly():
    pulls(4)
    counters.advance()
    orgs = [counters.orgs_key(m) for m in counters.METRICS]
    saved = app_redis().hgetall(counters.HASH), {key: app_redis().smembers(key) for key in orgs}  # as last saved
    pulls(6)
    counters.advance()
    assert stored("pulls") == 10
    app_redis().delete(counters.HASH, *orgs)  # the crash: counts and cursor roll back together
    app_redis().hset(counters.HASH, mapping=saved[0])
    for key, members in saved[1].items():
        if members:
            app_redis().sadd(key, *members)
    assert stored("pulls") == 4
    assert counters.query("pulls", None, None)["count"] == 10
    counters.advance()
    assert stored("pulls") == 10 and stored("pulls/o/seqera.io") == 10


def test_a_flushed_redis_is_rebuilt_by_the_housekeeper():
    pulls(7, org="gmail.com")
    counters.advance()
    app_redis().flushdb()
    assert counters.query("pulls", None, "gmail.com")["count"] == 7
    assert "metrics.counters.advance" in settings.WAVE_HOUSEKEEPING_TASKS
    run_once()
    assert stored("pulls") == 7 and stored("pulls/o/gmail.com") == 7


def test_two_housekeepers_never_count_an_event_twice():
    stop = threading.Event()
    errors: list[BaseException] = []

    def housekeeper():
        try:
            while not stop.is_set():
                counters.advance()
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=housekeeper) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(40):
            pulls(5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not errors
    counters.advance()
    assert stored("pulls") == 200 == PullEvent.objects.count()
