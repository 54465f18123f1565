"""Build logs, appended to the build record as they are written so that they can be followed live.

A log is bounded by WAVE_BUILD_LOG_LIMIT bytes: its first half (the head) is appended as it comes;
past it, the output is kept in memory as a bounded tail, and when the build ends a marker line saying
how much was dropped and the tail are appended. So the stored log only ever grows (a follower's
offset stays valid), never passes the limit by more than two marker lines, and costs nothing past
the head. A worker killed mid-build loses the tail; the reason still ends the log.

A write that fails because the database went away (a Postgres restart) never reaches the build: what
it held stays in memory (at most the head, so within the limit) and is written, in order, once the
database answers again.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Concat

from .models import Build
from .retry import LOST, Backoff, reconnect

log = logging.getLogger(__name__)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text).replace("\r\n", "\n")


def appended(text: str) -> Concat:
    """`Build.log` with `text` appended, in the database (no read of the log)."""
    return Concat(F("log"), Value(text))


class Tail:
    """The last `budget` bytes of what it is given, cut at a line start; counts what it drops."""

    def __init__(self, budget: int):
        self.budget, self.size, self.dropped_bytes, self.dropped_lines = budget, 0, 0, 0
        self._chunks: deque[bytes] = deque()

    def add(self, data: bytes) -> None:
        self._chunks.append(data)
        self.size += len(data)
        while self.size > self.budget:
            first = self._chunks.popleft()
            excess = self.size - self.budget
            if len(first) > excess:  # drop only the start of it, up to a line start
                cut = first.find(b"\n", excess) + 1 or len(first)
                self._chunks.appendleft(first[cut:])
                first = first[:cut]
            self.size -= len(first)
            self.dropped_bytes += len(first)
            self.dropped_lines += first.count(b"\n")

    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")


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
        self._flushed_at = time.monotonic()
        self._retry_at, self._backoff = 0.0, Backoff()

    def write(self, text: str) -> None:
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

    def drain(self) -> str:
        """Everything not stored yet, the tail of an over-long log included, for the caller to store
        with the build's final state; the log is complete once that is written."""
        self._take(whole_lines_only=False)
        text, self._unwritten = self._unwritten, ""
        if self._tail.size or self._tail.dropped_bytes:
            dropped = f"{self._tail.dropped_bytes:,} bytes ({self._tail.dropped_lines:,} lines)"
            text += f"[... {dropped} of output dropped here; the last {self._tail.size:,} bytes follow ...]\n" + self._tail.text()
            self._tail = Tail(self._tail.budget)
        return text

    def _take(self, whole_lines_only: bool) -> None:
        cut = self._pending.rfind("\n") + 1 if whole_lines_only else len(self._pending)
        if cut:
            chunk, self._pending = self._pending[:cut], self._pending[cut:]
            self._unwritten += self._keep(strip_ansi(chunk).encode())

    def _keep(self, data: bytes) -> str:
        """The part of `data` to store now; the rest goes to the tail."""
        if self._head_left <= 0:
            self._tail.add(data)
            return ""
        if len(data) <= self._head_left:
            self._head_left -= len(data)
            return data.decode(errors="replace")
        cut = data.rfind(b"\n", 0, self._head_left) + 1 or self._head_left
        self._head_left = 0
        self._tail.add(data[cut:])
        notice = f"[... the log passed {self.limit // 2:,} bytes: of the rest, its last {self._tail.budget:,} bytes are added when the build ends ...]\n"
        return data[:cut].decode(errors="replace") + notice

    def _store(self) -> None:
        if not self._unwritten or time.monotonic() < self._retry_at:
            return
        try:
            Build.objects.filter(pk=self.build_id).update(log=appended(self._unwritten))
        except LOST as exc:
            reconnect()
            delay = self._backoff.failed()
            self._retry_at = time.monotonic() + delay
            log.warning("build %s: log write failed (%s); %d bytes kept, retrying in %.1f s", self.build_id, exc, len(self._unwritten), delay)
        else:
            self._unwritten = ""
            self._backoff.succeeded()
