"""Usage counters in one Redis hash, so that the metrics API answers in O(orgs).

Fields: `<metric>` (all time), `<metric>/d/<date>`, `<metric>/o/<org>`, `<metric>/o/<org>/d/<date>`;
a set per metric lists the orgs seen. Every event updates its fields in one MULTI; anonymous events
count in the totals but under no org. Postgres keeps the events, and `rebuild_counters` remakes the
hash from them.
"""

from __future__ import annotations

from datetime import date

from wave_site.redis import sync_redis

HASH = "wave:metrics"
METRICS = ("builds", "pulls", "fusion")


def orgs_key(metric: str) -> str:
    return f"wave:metrics:orgs:{metric}"


def increment(metric: str, org: str | None, day: date, by: int = 1, pipe=None) -> None:
    own = pipe is None
    pipe = pipe if pipe is not None else sync_redis().pipeline(transaction=True)
    day_s = day.isoformat()
    pipe.hincrby(HASH, metric, by)
    pipe.hincrby(HASH, f"{metric}/d/{day_s}", by)
    if org:
        pipe.hincrby(HASH, f"{metric}/o/{org}", by)
        pipe.hincrby(HASH, f"{metric}/o/{org}/d/{day_s}", by)
        pipe.sadd(orgs_key(metric), org)
    if own:
        pipe.execute()


def _int(value) -> int:
    return int(value) if value else 0


def query(metric: str, day: date | None, org: str | None) -> dict:
    """The reference's shapes: `{count}` for a date and an org, else `{metric, count, orgs}`."""
    redis = sync_redis()
    suffix = f"/d/{day.isoformat()}" if day else ""
    if day and org:
        return {"count": _int(redis.hget(HASH, f"{metric}/o/{org}{suffix}"))}
    if org:
        count = _int(redis.hget(HASH, f"{metric}/o/{org}"))
        return {"metric": metric, "count": count, "orgs": {org: count} if count else {}}
    orgs = sorted(o.decode() for o in redis.smembers(orgs_key(metric)))
    values = redis.hmget(HASH, [f"{metric}/o/{o}{suffix}" for o in orgs]) if orgs else []
    counts = {o: _int(v) for o, v in zip(orgs, values) if _int(v)}
    return {"metric": metric, "count": _int(redis.hget(HASH, f"{metric}{suffix}")), "orgs": counts}


def reset() -> None:
    redis = sync_redis()
    redis.delete(HASH, *[orgs_key(m) for m in METRICS])
