"""Usage counts: derived from the events in Postgres, kept in one Redis hash so the API answers in O(orgs).

Postgres is the source of truth (`PullEvent` rows, `Build` rows). The hash counts every event whose
inserting transaction id is below its `cursor` field (see `wave_site/xid.py`); `advance`, a
housekeeping task, counts the events between the cursor and the settled horizon and moves the cursor,
in one MULTI under WATCH, so two housekeepers never count an event twice. A Redis crash rolls the
counts and the cursor back together, and the next round counts again from there; a hash without a
cursor (flushed, or never made) is rebuilt from one aggregate query.

`query` answers from the hash up to its cursor plus a Postgres aggregate of the events after it, so
answers are exact and current without waiting for the next round; without Redis, from Postgres alone.

Fields: `<metric>` (all time), `<metric>/d/<date>`, `<metric>/o/<org>`, `<metric>/o/<org>/d/<date>`;
a set per metric lists the orgs seen. Anonymous events count in the totals but under no org.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from redis.exceptions import WatchError

from builds.models import Build
from wave_site.redis import ERRORS, sync_redis, unavailable
from wave_site.xid import settled_xid

from .models import PullEvent

HASH = "wave:metrics"
CURSOR = "cursor"  # field of HASH: every event with a transaction id below it is counted
METRICS = ("builds", "pulls", "fusion")


def orgs_key(metric: str) -> str:
    return f"wave:metrics:orgs:{metric}"


def events(metric: str) -> QuerySet:
    """The rows that make `metric`."""
    if metric == "builds":
        return Build.objects.filter(from_registry=False)
    return PullEvent.objects.filter(fusion=True) if metric == "fusion" else PullEvent.objects.all()


def _tally(xids: Q) -> list[tuple[str, str, date, int]]:
    """(metric, org, day, count) of the events whose transaction ids match `xids`."""
    rows = []
    for metric in ("builds", "pulls"):
        per_day = events(metric).filter(xids).annotate(day=TruncDate("created_at")).values("org", "day")
        if metric == "builds":
            rows += [("builds", r["org"], r["day"], r["n"]) for r in per_day.annotate(n=Count("pk"))]
            continue
        for r in per_day.annotate(n=Count("pk"), fusion=Count("pk", filter=Q(fusion=True))):
            rows.append(("pulls", r["org"], r["day"], r["n"]))
            if r["fusion"]:
                rows.append(("fusion", r["org"], r["day"], r["fusion"]))
    return rows


def _increment(pipe, metric: str, org: str, day: date, by: int) -> None:
    day_s = day.isoformat()
    pipe.hincrby(HASH, metric, by)
    pipe.hincrby(HASH, f"{metric}/d/{day_s}", by)
    if org:
        pipe.hincrby(HASH, f"{metric}/o/{org}", by)
        pipe.hincrby(HASH, f"{metric}/o/{org}/d/{day_s}", by)
        pipe.sadd(orgs_key(metric), org)


def advance() -> int:
    """Count the events settled since the cursor (all of them when there is no cursor) and move it;
    returns how many were counted (0 when another housekeeper did it first)."""
    with sync_redis().pipeline(transaction=True) as pipe:
        pipe.watch(HASH)
        cursor = pipe.hget(HASH, CURSOR)
        horizon = settled_xid()
        if cursor is None:
            rows = _tally(Q(xid__lt=horizon))
        else:
            rows = _tally(Q(xid__gte=int(cursor), xid__lt=horizon))
        pipe.multi()
        if cursor is None:
            pipe.delete(HASH, *[orgs_key(m) for m in METRICS])
        for metric, org, day, n in rows:
            _increment(pipe, metric, org, day, n)
        pipe.hset(HASH, CURSOR, horizon)
        try:
            pipe.execute()
        except WatchError:  # another housekeeper moved the cursor first: its counts stand
            return 0
    return sum(n for metric, *_, n in rows if metric != "fusion")


def reset() -> None:
    """Drop the hash: answers come from Postgres until the next `advance` rebuilds it."""
    sync_redis().delete(HASH, *[orgs_key(m) for m in METRICS])


def _int(value) -> int:
    return int(value) if value else 0


def _counted(metric: str, day: date | None, org: str | None) -> tuple[int | None, int, dict[str, int]]:
    """(cursor, total, per org) from the hash, read consistently with the cursor (retried if a
    housekeeper moves it meanwhile); cursor None when the hash has none."""
    suffix = f"/d/{day.isoformat()}" if day else ""
    with sync_redis().pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(HASH)
                cursor = pipe.hget(HASH, CURSOR)
                orgs = [org] if org else sorted(o.decode() for o in pipe.smembers(orgs_key(metric)))
                total = _int(pipe.hget(HASH, f"{metric}{suffix}"))
                values = pipe.hmget(HASH, [f"{metric}/o/{o}{suffix}" for o in orgs]) if orgs else []
                pipe.multi()
                pipe.execute()
            except WatchError:
                continue
            if cursor is None:
                return None, 0, {}
            return int(cursor), total, {o: _int(v) for o, v in zip(orgs, values)}


def query(metric: str, day: date | None, org: str | None) -> dict:
    """The reference's shapes: `{count}` for a date and an org, else `{metric, count, orgs}`."""
    try:
        cursor, total, per_org = _counted(metric, day, org)
    except ERRORS as exc:
        unavailable("counters", exc)
        cursor, total, per_org = None, 0, {}
    recent = events(metric) if cursor is None else events(metric).filter(xid__gte=cursor)
    if day:
        recent = recent.filter(created_at__date=day)
    if org:
        recent = recent.filter(org=org)
    counts = Counter(per_org)
    for row in recent.values("org").annotate(n=Count("pk")):
        total += row["n"]
        if row["org"]:
            counts[row["org"]] += row["n"]
    if day and org:
        return {"count": counts[org]}
    if org:
        return {"metric": metric, "count": counts[org], "orgs": {org: counts[org]} if counts[org] else {}}
    return {"metric": metric, "count": total, "orgs": {o: n for o, n in sorted(counts.items()) if n}}
