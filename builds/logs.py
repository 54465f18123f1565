"""Build logs, appended to the build record as they are written so that they can be followed live.

A log is bounded by WAVE_BUILD_LOG_LIMIT bytes: its first half (the head) is appended as it comes;
past it, the output is kept in memory as a bounded tail, and when the build ends a marker line saying
how much was dropped and the tail are appended. So the stored log only ever grows (a follower's
offset stays valid), never passes the limit by more than two marker lines, and costs nothing past
the head. A worker killed mid-build loses the tail; the reason still ends the log.

A write that fails because the database went away (a Postgres restart) never reaches the build: what
it held stays in memory (at most the head, so within the limit) and is written, in order, once the
database answers again.

Each write is timed: the log keeps marks, `Build.log_times`, of [character offset, unix seconds] at
the line where a new second starts (at most one a second, MAX_TIMES a build), appended with the text
in the same UPDATE and counted from the log's length there, in SQL. A line's time is its latest mark's:
the head, the dropped-output marker, the tail and the lines the job writes itself are all timed
where they land, so `/logs` stays the log alone and the page can show when each line came.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque

from django.conf import settings
from django.db.models import F, JSONField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat

from .models import Build
from .retry import LOST, Backoff, reconnect

log = logging.getLogger(__name__)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
MAX_TIMES = 20_000  # time marks a build's log keeps: a line a second for five and a half hours


def without_nul(text: str) -> str:
    """Postgres text cannot hold a NUL: a RUN printing one would otherwise fail every write of the log,
    and the build's end (its reason and steps quote the output too)."""
    return text.replace("\x00", "\ufffd")


def strip_ansi(text: str) -> str:
    """The text as a log stores it: no terminal escapes, no carriage return before a newline, no NUL."""
    return without_nul(_ANSI.sub("", text).replace("\r\n", "\n"))


def appended(text: str) -> Concat:
    """`Build.log` with `text` appended, in the database (no read of the log)."""
    return Concat(F("log"), Value(text))


def timed_append(text: str, times: list[tuple[int, float]]) -> dict:
    """The UPDATE's fields that append `text` to `Build.log` with its time marks (`times`: positions in
    `text` and when they were read), the positions made offsets in SQL from the log's length before the
    append. An archived build's column no longer holds its log's start: a late line there gets no mark."""
    fields = {"log": appended(text)}
    if times:
        marks = ", ".join(["jsonb_build_array(length(log) + %s, %s)"] * len(times))
        fields["log_times"] = RawSQL(
            f"CASE WHEN archived_at IS NULL THEN log_times || jsonb_build_array({marks}) ELSE log_times END",
            [value for mark in times for value in mark], output_field=JSONField(),
        )
    return fields


def line_appended(text: str) -> dict:
    """The UPDATE's fields that append one line to `Build.log`, timed now."""
    return timed_append(text.rstrip("\n") + "\n", [(0, round(time.time(), 3))])


class Tail:
    """The last `budget` bytes of what it is given, cut at a line start, each piece with the time it was
    written; counts what it drops."""

    def __init__(self, budget: int):
        self.budget, self.size, self.dropped_bytes, self.dropped_lines = budget, 0, 0, 0
        self._chunks: deque[tuple[bytes, float]] = deque()

    def add(self, data: bytes, when: float) -> None:
        self._chunks.append((data, when))
        self.size += len(data)
        while self.size > self.budget:
            first, first_when = self._chunks.popleft()
            excess = self.size - self.budget
            if len(first) > excess:  # drop only the start of it, up to a line start
                cut = first.find(b"\n", excess) + 1 or len(first)
                self._chunks.appendleft((first[cut:], first_when))
                first = first[:cut]
            self.size -= len(first)
            self.dropped_bytes += len(first)
            self.dropped_lines += first.count(b"\n")

    def text(self) -> tuple[str, list[tuple[int, float]]]:
        """The tail, and a time mark wherever its time changes (the first piece's included)."""
        text, times = "", []
        for data, when in self._chunks:
            if not times or times[-1][1] != when:
                times.append((len(text), when))
            text += data.decode(errors="replace")
        return text, times


class BuildLog:
    """Buffers output and appends whole lines to `Build.log` at most every `interval` seconds
    (WAVE_BUILD_LOG_FLUSH; the tests' workers use 0, so every write reaches the database)."""

    def __init__(self, build_id: str, interval: float | None = None, limit: int | None = None):
        self.build_id = build_id
        self.interval = settings.WAVE_BUILD_LOG_FLUSH if interval is None else interval
        self.limit = settings.WAVE_BUILD_LOG_LIMIT if limit is None else limit
        self._head_left = self.limit // 2
        self._tail = Tail(self.limit - self.limit // 2)
        self._pending = ""
        self._unwritten = ""  # kept for the log but not yet stored: the database was unreachable
        # Time marks (position, unix seconds) in `_pending` and in `_unwritten`; `_when`: the latest one's time.
        self._pending_times: list[tuple[int, float]] = []
        self._unwritten_times: list[tuple[int, float]] = []
        self._when, self._second, self._times_left, self._line_start = time.time(), -1, MAX_TIMES, True
        self._flushed_at = time.monotonic()
        self._retry_at, self._backoff = 0.0, Backoff()

    def write(self, text: str) -> None:
        now = time.time()
        if text and self._line_start and int(now) != self._second and self._times_left:
            self._pending_times.append((len(self._pending), round(now, 3)))
            self._second, self._times_left = int(now), self._times_left - 1
        if text:
            self._line_start = text.endswith("\n")
        self._pending += text
        self.tick()

    def tick(self) -> None:
        """Flush what is due; called on every write and at least once a second while a step is silent."""
        if self._pending and time.monotonic() - self._flushed_at >= self.interval:
            self.flush(whole_lines_only=True)
        elif self._unwritten:
            self._store()

    def line(self, text: str) -> None:
        self.write(text.rstrip("\n") + "\n")

    def flush(self, whole_lines_only: bool = False) -> None:
        self._take(whole_lines_only)
        self._flushed_at = time.monotonic()
        self._store()

    def drain(self) -> dict:
        """Everything not stored yet, the tail of an over-long log included, as the UPDATE's fields for
        the caller to store with the build's final state; the log is complete once that is written."""
        self._take(whole_lines_only=False)
        text, self._unwritten = self._unwritten, ""
        times, self._unwritten_times = self._unwritten_times, []
        if self._tail.size or self._tail.dropped_bytes:
            dropped = f"{self._tail.dropped_bytes:,} bytes ({self._tail.dropped_lines:,} lines)"
            tail, tail_times = self._tail.text()
            times.append((len(text), tail_times[0][1] if tail_times else self._when))  # the marker's: the tail's first
            text += f"[... {dropped} of output dropped here; the last {self._tail.size:,} bytes follow ...]\n"
            times += [(len(text) + position, when) for position, when in tail_times]
            text += tail
            self._tail = Tail(self._tail.budget)
        return timed_append(text, times)

    def _take(self, whole_lines_only: bool) -> None:
        """Move `_pending` up to its last line end (or all of it) to the log, piece by piece between
        its time marks, so that each mark lands where its piece does (the head, or the tail)."""
        cut = self._pending.rfind("\n") + 1 if whole_lines_only else len(self._pending)
        if not cut:
            return
        chunk, self._pending = self._pending[:cut], self._pending[cut:]
        marks = [mark for mark in self._pending_times if mark[0] < cut]
        self._pending_times = [(position - cut, when) for position, when in self._pending_times if position >= cut]
        pieces = marks if marks and marks[0][0] == 0 else [(0, None), *marks]
        for (start, when), end in zip(pieces, [position for position, _ in pieces[1:]] + [cut]):
            if when is not None:
                self._when = when
            kept = self._keep(strip_ansi(chunk[start:end]).encode())
            if kept and when is not None:
                self._unwritten_times.append((len(self._unwritten), when))
            self._unwritten += kept

    def _keep(self, data: bytes) -> str:
        """The part of `data` to store now; the rest goes to the tail, with the time it was written."""
        if self._head_left <= 0:
            self._tail.add(data, self._when)
            return ""
        if len(data) <= self._head_left:
            self._head_left -= len(data)
            return data.decode(errors="replace")
        cut = data.rfind(b"\n", 0, self._head_left) + 1 or self._head_left
        self._head_left = 0
        self._tail.add(data[cut:], self._when)
        notice = f"[... the log passed {self.limit // 2:,} bytes: of the rest, its last {self._tail.budget:,} bytes are added when the build ends ...]\n"
        return data[:cut].decode(errors="replace") + notice

    def _store(self) -> None:
        if not self._unwritten or time.monotonic() < self._retry_at:
            return
        try:
            Build.objects.filter(pk=self.build_id).update(**timed_append(self._unwritten, self._unwritten_times))
        except LOST as exc:
            reconnect()
            delay = self._backoff.failed()
            self._retry_at = time.monotonic() + delay
            log.warning("build %s: log write failed (%s); %d bytes kept, retrying in %.1f s", self.build_id, exc, len(self._unwritten), delay)
        else:
            self._unwritten, self._unwritten_times = "", []
            self._backoff.succeeded()
