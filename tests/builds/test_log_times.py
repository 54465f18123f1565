"""When each line of a build's log came: time marks stored with the log (builds/logs.py), at most one a
second, wherever the line lands (the head, the dropped-output marker, the tail, the job's own lines)."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from builds import logs
from builds.logs import BuildLog, line_appended
from builds.models import Build

pytestmark = pytest.mark.django_db
T = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


class Clock:
    """The worker's clock, set by the test (BuildLog reads time.time and time.monotonic)."""

    def __init__(self):
        self.now = T

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(logs, "time", clock)
    return clock


def stored(build_id: str) -> tuple[str, list]:
    build = Build.objects.get(pk=build_id)
    return build.log, build.log_times


def time_of(offset: int, log_times: list) -> float | None:
    """The time of the line at `offset`: the latest mark at or before it."""
    times = [when for at, when in log_times if at <= offset]
    return times[-1] if times else None


def test_each_new_second_marks_the_line_it_starts_and_the_jobs_own_lines_are_marked(db_build, clock):
    build = db_build("d" * 16)
    log = BuildLog(build.id, interval=0)
    clock.now = T + 0.2
    log.write("one\n")
    log.write("two\n")  # the same second: no mark
    clock.now = T + 0.9
    log.write("thr")
    clock.now = T + 1.1
    log.write("ee\n")  # a new second, but in the middle of a line: the next line takes it
    log.write("four\n")
    clock.now = T + 5.0
    log.line("five")
    Build.objects.filter(pk=build.id).update(**log.drain())
    Build.objects.filter(pk=build.id).update(**line_appended("Build failed: the worker went away"))
    assert stored(build.id) == (
        "one\ntwo\nthree\nfour\nfive\nBuild failed: the worker went away\n",
        [[0, T + 0.2], [14, T + 1.1], [19, T + 5.0], [24, T + 5.0]],
    )


def test_an_over_long_logs_head_marker_and_tail_each_keep_their_lines_times(db_build, clock):
    build = db_build("e" * 16)
    log = BuildLog(build.id, interval=0, limit=2000)
    for second in range(100):
        clock.now = T + second + 0.5
        log.write("".join(f"s{second:03d} line {n}\n" for n in range(3)))
    Build.objects.filter(pk=build.id).update(**log.drain())
    text, log_times = stored(build.id)
    assert "of output dropped here" in text and "the log passed 1,000 bytes" in text
    assert text.startswith("s000 line 0\n") and text.endswith("s099 line 2\n")
    lines, offset, checked = text.splitlines(keepends=True), 0, 0
    for number, line in enumerate(lines):
        # Every line shows the second it was written in; a notice shows its neighbours'.
        if match := re.match(r"s(\d{3}) line", line):
            assert time_of(offset, log_times) == T + int(match[1]) + 0.5, line
            checked += 1
        elif "dropped here" in line:
            assert time_of(offset, log_times) == T + int(lines[number + 1][1:4]) + 0.5
        else:
            assert "the log passed" in line and time_of(offset, log_times) == T + int(lines[number - 1][1:4]) + 0.5
        offset += len(line)
    assert checked == len(lines) - 2 and len(log_times) <= 100 + 1


def test_a_build_keeps_a_bounded_number_of_marks(db_build, clock, monkeypatch):
    monkeypatch.setattr(logs, "MAX_TIMES", 5)
    build = db_build("f" * 16)
    log = BuildLog(build.id, interval=0)
    for second in range(12):
        clock.now = T + second
        log.line(f"second {second}")
    assert stored(build.id)[1] == [[9 * n, T + n] for n in range(5)]


def test_a_late_line_after_the_archive_adds_no_mark_that_would_point_into_the_emptied_column(db_build, clock):
    build = db_build("a" * 16)
    Build.objects.filter(pk=build.id).update(status=Build.Status.FAILED, archived_at=timezone.now(), log="", log_times=[[0, T]])
    Build.objects.filter(pk=build.id).update(**line_appended("a reaped worker's last line"))
    assert stored(build.id) == ("a reaped worker's last line\n", [[0, T]])


def test_a_nul_a_build_prints_is_stored_as_a_replacement_character(db_build):
    build = db_build("b" * 16)
    log = BuildLog(build.id, interval=0)
    log.write("before\x00after\n")  # Postgres text cannot hold a NUL: the write would fail, and every one after
    log.line("next")
    assert stored(build.id)[0] == "before\ufffdafter\nnext\n"
