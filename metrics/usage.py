"""What the usage dashboards and their CSV show: per day and kind for one org over a window of days,
and the top images and users over that same window. One query feeds both the charts and the CSV.

Anonymous events (no token, so no org) are shown as the org `ANONYMOUS`, a name no email domain can have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from . import counters

WINDOWS = (7, 30, 90)
DEFAULT_WINDOW = 30
ANONYMOUS = "(anonymous)"
KINDS = ("builds", "pulls", "fusion")  # as the metrics API names them
LABELS = {"builds": "Builds", "pulls": "Pulls", "fusion": "Fusion pulls"}


@dataclass(frozen=True)
class Window:
    days: int
    since: date  # the first day shown
    until: date  # today, the last day shown

    @classmethod
    def last(cls, days: int) -> Window:
        today = timezone.localdate()
        return cls(days, today - timedelta(days=days - 1), today)

    def bounds(self) -> tuple[datetime, datetime]:
        """From the first day's midnight to the midnight after today, in the current time zone."""
        return tuple(timezone.make_aware(datetime.combine(day, time.min)) for day in (self.since, self.until + timedelta(days=1)))

    def dates(self) -> list[date]:
        return [self.since + timedelta(days=i) for i in range(self.days)]


def _stored(org: str) -> str:
    return "" if org == ANONYMOUS else org


def _in(events: QuerySet, org: str | None, window: Window) -> QuerySet:
    start, end = window.bounds()  # a range on the indexed column: `created_at__date` would cast every row
    events = events.filter(created_at__gte=start, created_at__lt=end)
    return events if org is None else events.filter(org=_stored(org))


def daily(org: str, window: Window) -> dict[str, list[int]]:
    """{kind: [count for each day of the window]}, zeros included: what the charts draw and the CSV lists."""
    days = {day: i for i, day in enumerate(window.dates())}
    series = {kind: [0] * window.days for kind in KINDS}
    builds = _in(counters.events("builds"), org, window).annotate(day=TruncDate("created_at")).values("day")
    for row in builds.annotate(n=Count("pk")):
        series["builds"][days[row["day"]]] = row["n"]
    pulls = _in(counters.events("pulls"), org, window).annotate(day=TruncDate("created_at")).values("day")
    for row in pulls.annotate(n=Count("pk"), fusion=Count("pk", filter=Q(fusion=True))):
        series["pulls"][days[row["day"]]] = row["n"]
        series["fusion"][days[row["day"]]] = row["fusion"]
    return series


def rows(org: str, window: Window) -> list[tuple[date, str, int]]:
    """(day, kind, count), one per day and kind, oldest day first."""
    series = daily(org, window)
    return [(day, kind, series[kind][i]) for i, day in enumerate(window.dates()) for kind in KINDS]


def top(org: str, window: Window, limit: int = 10) -> tuple[list[dict], list[dict]]:
    """The most pulled images and the users who pulled most, in the window."""
    pulls = _in(counters.events("pulls"), org, window)
    images = pulls.values("image").annotate(n=Count("pk")).order_by("-n", "image")[:limit]
    users = pulls.exclude(user=None).values("user__username").annotate(n=Count("pk")).order_by("-n", "user__username")[:limit]
    return list(images), list(users)


def per_org(window: Window) -> list[dict]:
    """Every org with events in the window (anonymous ones as ANONYMOUS) and its totals, most pulls first."""
    totals: dict[str, dict[str, int]] = {}
    for row in _in(counters.events("builds"), None, window).values("org").annotate(n=Count("pk")):
        totals.setdefault(row["org"] or ANONYMOUS, dict.fromkeys(KINDS, 0))["builds"] = row["n"]
    pulls = _in(counters.events("pulls"), None, window).values("org")
    for row in pulls.annotate(n=Count("pk"), fusion=Count("pk", filter=Q(fusion=True))):
        org = totals.setdefault(row["org"] or ANONYMOUS, dict.fromkeys(KINDS, 0))
        org["pulls"], org["fusion"] = row["n"], row["fusion"]
    ranked = sorted(totals.items(), key=lambda item: (-item[1]["pulls"], -item[1]["builds"], item[0]))
    return [{"org": org, **counts} for org, counts in ranked]
