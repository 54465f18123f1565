"""Pull events past `WAVE_PULL_EVENT_RETENTION_DAYS` are deleted once the usage counters hold them,
and the counts do not change."""

from __future__ import annotations

import pytest
from django.utils import timezone

from metrics import counters, retention
from metrics.models import PullEvent
from tests.support.factories import pulls

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh(monkeypatch, settings):
    settings.WAVE_PULL_EVENT_RETENTION_DAYS = 30
    monkeypatch.setitem(retention._previous, "cursor", None)  # this process has seen no round yet
    counters.reset()
    yield
    counters.reset()


def answer() -> dict:
    return counters.query("pulls", None, None)


def test_counted_events_past_retention_are_deleted_and_the_counts_stay():
    pulls(5, days_ago=40)
    pulls(2, days_ago=29)
    counters.advance()
    before = answer()
    assert before["count"] == 7
    assert retention.collect_pull_events() == 0  # the first round only learns the cursor
    assert retention.collect_pull_events() == 5
    assert PullEvent.objects.count() == 2
    assert all((timezone.now() - e.created_at).days < 30 for e in PullEvent.objects.all())
    assert answer() == before


def test_events_not_counted_yet_are_kept_whatever_their_age():
    counters.advance()
    retention.collect_pull_events()
    pulls(3, days_ago=40)  # inserted after the cursor moved: the hash does not hold them yet
    assert retention.collect_pull_events() == 0
    assert PullEvent.objects.count() == 3
    counters.advance()
    # Counted, but only as of this round: a Redis crash could still roll the cursor back past them.
    assert retention.collect_pull_events() == 0
    assert retention.collect_pull_events() == 3


def test_without_the_counters_hash_nothing_is_deleted():
    pulls(4, days_ago=40)
    counters.advance()
    retention.collect_pull_events()
    counters.reset()  # flushed: until the housekeeper rebuilds it, nothing is known counted
    assert retention.collect_pull_events() == 0
    assert PullEvent.objects.count() == 4


def test_without_a_retention_setting_nothing_is_deleted(settings):
    settings.WAVE_PULL_EVENT_RETENTION_DAYS = 0
    pulls(2, days_ago=4000)
    counters.advance()
    retention.collect_pull_events()
    assert retention.collect_pull_events() == 0 and PullEvent.objects.count() == 2


def test_each_round_deletes_one_batch(settings):
    settings.WAVE_COLLECT_BATCH = 2
    pulls(5, days_ago=40)
    counters.advance()
    retention.collect_pull_events()
    assert [retention.collect_pull_events() for _ in range(4)] == [2, 2, 1, 0]
