"""The housekeeper runs every task each round; one that fails is reported and the others still run."""

from __future__ import annotations

import pytest

from django.contrib.auth import get_user_model
from tests.support.factories import UserFactory
from wave_site.housekeeping import run_once

ran: list[str] = []


def failing_task() -> None:
    ran.append("failing")
    raise RuntimeError("boom")


def counting_task() -> int:
    ran.append("counting")
    return get_user_model().objects.count()


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_does_not_stop_the_others(settings):
    settings.WAVE_HOUSEKEEPING_TASKS = [f"{__name__}.failing_task", f"{__name__}.counting_task"]
    UserFactory()
    ran.clear()
    results = run_once()
    assert ran == ["failing", "counting"]
    assert isinstance(results[f"{__name__}.failing_task"], RuntimeError)
    assert results[f"{__name__}.counting_task"] == 1
