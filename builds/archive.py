"""A build's own bytes in the object store (README, Object storage): its log and conda lock once it has
ended, its SIF file before the push.

While a build runs its log stays in `Build.log`, appended live and followed by offset. Once it has
ended, `archive_build` (an RQ job queued at its end, and the housekeeper's sweep for any it missed)
writes the non-empty texts to `builds/<id>/build.log`, `conda.lock` and `conda-lock.yml`, then in one
UPDATE, conditional on the texts it uploaded being still the ones in the row, marks the build
archived and empties the columns. A store that is down leaves the row as it was, for the next try.

`log_text` and `lock_text` are the one reader, archived or not. A line a reaped worker still appends
after the archive lands in the emptied column: it reads as the end of the archived log.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Iterable

import django_rq
import redis
from django.conf import settings
from django.db.models.functions import Substr
from django.utils import timezone

from wave_site.storage import Missing, Unreachable, store

from .models import Build
from .sif import SifError

log = logging.getLogger(__name__)

TEXTS = {"log": "build.log", "condalock": "conda.lock", "condalock_yaml": "conda-lock.yml"}
SIF = "image.sif"
ENDED = (Build.Status.SUCCEEDED, Build.Status.FAILED)
SWEEP_AFTER = 300  # seconds after its end the sweep takes a build: the job queued at the end goes first


def key(build_id: str, name: str) -> str:
    return f"builds/{build_id}/{name}"


def archive_build(build_id: str) -> bool:
    """Move an ended build's log and lock to the store; True when this call did (a second does nothing)."""
    build = Build.objects.filter(pk=build_id, status__in=ENDED, archived_at__isnull=True).only("id", "format", *TEXTS).first()
    if build is None:  # running, archived already, or gone
        return False
    texts = {field: getattr(build, field) for field in TEXTS}
    for field, text in texts.items():
        if text:
            store().put_bytes(key(build_id, TEXTS[field]), text.encode())
    if build.format == Build.Format.SIF:  # the registry has it now, or the build failed: not read again
        store().delete(key(build_id, SIF))
    archived = Build.objects.filter(pk=build_id, archived_at__isnull=True, **texts).update(
        archived_at=timezone.now(), **{field: "" for field in TEXTS},
    )
    return bool(archived)


def archive_soon(build_id: str) -> None:
    """Queue `archive_build` at a build's end (when WAVE_BUILD_ARCHIVE_AFTER is 0); with Redis away the
    sweep archives it."""
    if settings.WAVE_BUILD_ARCHIVE_AFTER:
        return
    try:
        django_rq.get_queue(settings.WAVE_BUILD_QUEUE).enqueue(
            "builds.archive.archive_build", build_id, job_id=f"archive-{build_id}", result_ttl=600, failure_ttl=24 * 3600,
        )
    except redis.RedisError as exc:
        log.warning("could not queue the archive of build %s: %s", build_id, exc)


def archive_ended_builds() -> int:
    """Housekeeping: archive the builds ended more than WAVE_BUILD_ARCHIVE_AFTER (at least SWEEP_AFTER)
    seconds ago and not archived yet, oldest first, WAVE_COLLECT_BATCH a round. The builds that ended
    before archives existed go this way too. A store that is down fails the round; the next one retries."""
    cutoff = timezone.now() - timedelta(seconds=max(settings.WAVE_BUILD_ARCHIVE_AFTER, SWEEP_AFTER))
    waiting = Build.objects.filter(archived_at__isnull=True, finished_at__lt=cutoff, status__in=ENDED)
    ids = list(waiting.order_by("finished_at").values_list("pk", flat=True)[: settings.WAVE_COLLECT_BATCH])
    return sum(archive_build(build_id) for build_id in ids)


def _stored(build_id: str, name: str) -> str:
    try:
        return store().read_bytes(key(build_id, name)).decode()
    except Missing:  # empty texts are not stored
        return ""


def _column(build: Build) -> str:
    """`Build.log` as it is in the row (read now when the caller deferred it)."""
    if "log" in build.__dict__:
        return build.log
    return Build.objects.filter(pk=build.pk).values_list("log", flat=True).first() or ""


def log_text(build: Build, offset: int = 0, limit: int | None = None) -> str:
    """The build's log from character `offset`, at most `limit` characters of it. An archived log is read
    from the store (`storage.Unreachable` when it is down); a live one from Postgres, only the part asked for."""
    if build.archived_at is None:
        if "log" in build.__dict__ or (not offset and limit is None):
            text = _column(build)
            return text[offset:] if limit is None else text[offset:offset + limit]
        return Build.objects.filter(pk=build.pk).values_list(Substr("log", offset + 1, limit), flat=True).first() or ""
    text = _stored(build.pk, TEXTS["log"]) + _column(build)
    return text[offset:] if limit is None else text[offset:offset + limit]


def lock_text(build: Build, kind: str) -> str:
    """A conda build's lock: `explicit` (@EXPLICIT list) or `yaml` (conda-lock); empty when it has none."""
    field = "condalock_yaml" if kind == "yaml" else "condalock"
    if build.archived_at is None:
        return getattr(build, field)
    return _stored(build.pk, TEXTS[field])


def for_page(build: Build, limit: int, offset: int | None = None) -> None:
    """Set an archived build's page values (`log_size`, `log_shown`: the last `limit` characters, or
    `limit` from `offset`; `condalock`) from the store: the page's query read them from emptied columns.
    The store down, the page says so in place of the log (a follower gets nothing, and the build's end)."""
    if build.archived_at is None:
        return
    try:
        text = log_text(build)
        build.condalock = lock_text(build, "explicit")
    except Unreachable as exc:
        build.log_size, build.log_shown = 0, "" if offset is not None else f"[The archived log cannot be read now: {exc}]"
        return
    build.log_size = len(text)
    build.log_shown = text[-limit:] if offset is None else text[offset:offset + limit]


def store_sif(build_id: str, path: Path) -> None:
    """Upload a build's SIF (streamed) before its push: it is then never only on a worker's disk."""
    try:
        store().put_file(key(build_id, SIF), path)
    except Unreachable as exc:
        raise SifError(f"The SIF could not be stored before its push: {exc}") from None


def delete_stored(build_ids: Iterable[str]) -> None:
    """Every object of these builds (those absent included): when their rows are deleted."""
    store().delete_many(key(build_id, name) for build_id in build_ids for name in (*TEXTS.values(), SIF))
