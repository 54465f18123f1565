"""Build logs, appended to the build record as they are written so that they can be followed live.

A log is bounded by WAVE_BUILD_LOG_LIMIT bytes: its first half (the head) is appended as it comes;
past it, the output is kept in memory as a bounded tail, and when the build ends a marker line saying
how much was dropped and the tail are appended. So the stored log only ever grows (a follower's
offset stays valid), never passes the limit by more than two marker lines, and costs nothing past
the head. A worker killed mid-build loses the tail; the reason still ends the log.
"""

from __future__ import annotations

import re
import time
from collections import deque

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Concat

from .models import Build

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text).replace("\r\n", "\n")


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
        self._flushed_at = time.monotonic()

    def write(self, text: str) -> None:
        self._pending += text
        self.tick()

    def tick(self) -> None:
        """Flush what is due; called on every write and at least once a second while a step is silent."""
        if self._pending and time.monotonic() - self._flushed_at >= self.interval:
            self.flush(whole_lines_only=True)

    def line(self, text: str) -> None:
        self.write(text.rstrip("\n") + "\n")

    def flush(self, whole_lines_only: bool = False) -> None:
        cut = self._pending.rfind("\n") + 1 if whole_lines_only else len(self._pending)
        if cut:
            chunk, self._pending = self._pending[:cut], self._pending[cut:]
            self._append(self._keep(strip_ansi(chunk).encode()))
        self._flushed_at = time.monotonic()

    def close(self) -> None:
        """Write everything, the tail of an over-long log included; the log is complete after this."""
        self.flush()
        if self._tail.size or self._tail.dropped_bytes:
            dropped = f"{self._tail.dropped_bytes:,} bytes ({self._tail.dropped_lines:,} lines)"
            self._append(f"[... {dropped} of output dropped here; the last {self._tail.size:,} bytes follow ...]\n" + self._tail.text())
            self._tail = Tail(self._tail.budget)

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

    def _append(self, text: str) -> None:
        if text:
            Build.objects.filter(pk=self.build_id).update(log=Concat(F("log"), Value(text)))
