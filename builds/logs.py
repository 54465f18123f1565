"""Build logs, appended to the build record as they are written so that they can be followed live."""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Concat

from .models import Build

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text).replace("\r\n", "\n")


class BuildLog:
    """Buffers output and appends whole lines to `Build.log` at most every `interval` seconds
    (WAVE_BUILD_LOG_FLUSH; the tests' workers use 0, so every write reaches the database)."""

    def __init__(self, build_id: str, interval: float | None = None):
        self.build_id = build_id
        self.interval = settings.WAVE_BUILD_LOG_FLUSH if interval is None else interval
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
            Build.objects.filter(pk=self.build_id).update(log=Concat(F("log"), Value(strip_ansi(chunk))))
        self._flushed_at = time.monotonic()
