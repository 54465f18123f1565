"""A clock tests move by hand, for code that counts time windows (the rate limits' `clock` seam)."""

from __future__ import annotations

import itertools
import time

# Each clock starts on a day of its own, past any real time this suite runs at: the Redis keys of its
# windows are new, and its start is aligned with every window that divides a day (3 s, 4 s, an hour).
_days = itertools.count(int(time.time()) // 86400 + 1000)


class Clock:
    def __init__(self) -> None:
        self.now = float(next(_days) * 86400)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
