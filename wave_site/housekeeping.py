"""Upkeep that must not wait for a read: the tasks named in WAVE_HOUSEKEEPING_TASKS, run every
WAVE_HOUSEKEEPING_EVERY seconds by one long-running process the stack starts (`manage.py housekeep`).

Each task is a plain function taking no argument, idempotent and safe beside another housekeeper
(two hosts may run one each). A task that fails is logged and tried again next round; it never stops
the others, and a store that is away only delays the round.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connections
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


def run_once() -> dict[str, object]:
    """Run every task once; returns each task's result, or the exception it raised."""
    results: dict[str, object] = {}
    for path in settings.WAVE_HOUSEKEEPING_TASKS:
        try:
            results[path] = import_string(path)()
        except Exception as exc:  # noqa: BLE001 (one task's failure must not stop the others)
            log.exception("housekeeping task %s failed", path)
            results[path] = exc
        finally:
            # A connection broken by a Postgres restart is dropped here; the next task opens a fresh one.
            connections.close_all()
    return results


def run_forever(stop: threading.Event, every: float | None = None) -> None:
    every = settings.WAVE_HOUSEKEEPING_EVERY if every is None else every
    while not stop.is_set():
        started = time.monotonic()
        for path, result in run_once().items():
            if result and not isinstance(result, Exception):
                log.info("%s: %s", path, result)
        stop.wait(max(0.0, every - (time.monotonic() - started)))
