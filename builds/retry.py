"""Database writes that outlive a Postgres restart: on a lost connection, drop it and try again later.

A connection that broke stays broken in Django until it is closed, and the pool hands out stale ones
after a restart; closing returns it to the pool, which discards it, so the next query opens a fresh one.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from typing import Callable, TypeVar

from django.db import Error, InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
T = TypeVar("T")
LOST = (OperationalError, InterfaceError)  # the database went away; anything else is a bug, not retried


class Backoff:
    """Delays that double from `first` up to `cap`, back to `first` after a success."""

    def __init__(self, first: float = 0.5, cap: float = 5.0):
        self.first, self.cap, self.delay = first, cap, first

    def failed(self) -> float:
        """The delay to wait before the next try."""
        delay, self.delay = self.delay, min(self.delay * 2, self.cap)
        return delay

    def succeeded(self) -> None:
        self.delay = self.first


def reconnect() -> None:
    """Drop this thread's connection so that its next query opens a fresh one."""
    with suppress(Error):  # closing a dead connection may fail too; Django forgets it either way
        connection.close()


def retry_lost(action: Callable[[], T], within: float, what: str) -> T | None:
    """Run `action` until it gets through a lost connection, for at most `within` seconds; its result,
    or None (the last error logged) if the database did not come back in time."""
    deadline, backoff = time.monotonic() + within, Backoff(cap=10.0)
    while True:
        try:
            return action()
        except LOST as exc:
            reconnect()
            delay = backoff.failed()
            if time.monotonic() + delay > deadline:
                log.error("gave up %s after %.0f s without the database: %s", what, within, exc)
                return None
            log.warning("%s: the database is unreachable (%s); retrying in %.1f s", what, exc, delay)
            time.sleep(delay)
