"""/readyz's machinery without services: reasons lose their credentials, probes that arrive together
share one run of the checks, and a check that hangs is reported rather than waited for."""

from __future__ import annotations

import threading
import time

import pytest

from wave_site import health


def test_a_reason_loses_the_userinfo_of_a_url_and_the_stores_passwords(settings, monkeypatch):
    settings.REDIS_URL = "redis://wave:redis-pass-1234@127.0.0.1:9/0"
    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", "pg-pass-5678")
    error = OSError("cannot reach postgres://app:other-secret@db:5432/wave (pg-pass-5678), nor redis-pass-1234\nmore")
    assert health.reason(error) == "down: cannot reach postgres://***@db:5432/wave (***), nor ***"


def test_an_error_without_a_message_is_named_by_its_type():
    assert health.reason(TimeoutError()) == "down: TimeoutError"


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(health, "_last", (float("-inf"), {}))


def test_probes_that_arrive_together_share_one_run_of_the_checks(monkeypatch, fresh):
    calls = []

    def slow_check():
        calls.append(1)
        time.sleep(0.3)

    monkeypatch.setattr(health, "CHECKS", {"store": slow_check})
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(health.readiness())) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [{"store": "ok"}] * 20
    assert len(calls) == 1


def test_a_check_that_hangs_is_reported_and_the_others_still_answer(monkeypatch, fresh):
    release = threading.Event()
    monkeypatch.setattr(health, "DEADLINE", 0.5)
    monkeypatch.setattr(health, "CHECKS", {"frozen": release.wait, "fine": lambda: None})
    try:
        assert health.readiness() == {"frozen": "down: no answer within 0.5 s", "fine": "ok"}
    finally:
        release.set()
