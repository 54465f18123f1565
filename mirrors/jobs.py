"""The mirror job: a plain function taking the mirror's id, safe to run twice (the first run claims it)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from rq import Callback

from accounts.identity import Identity
from builds.logs import appended
from registries.upstream import client_for
from oci import errors
from oci.copy import ImageCopy
from oci.reference import parse_reference

from .models import Mirror

log = logging.getLogger(__name__)


def job_id(mirror_id: str) -> str:
    return f"mirror-{mirror_id}"


def enqueue_mirror(mirror_id: str) -> None:
    django_rq.get_queue(settings.WAVE_BUILD_QUEUE).enqueue(
        "mirrors.jobs.run_mirror",
        mirror_id,
        job_id=job_id(mirror_id),
        job_timeout=settings.WAVE_MIRROR_TIMEOUT,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback("mirrors.jobs.on_job_failure"),
    )


def run_mirror(mirror_id: str) -> None:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    claimed = Mirror.objects.filter(pk=mirror_id, status=Mirror.Status.PENDING).update(
        status=Mirror.Status.RUNNING, started_at=timezone.now(), worker=worker,
        log=appended(f"Mirroring on {worker}\n"),  # a running mirror's log says where it runs
    )
    if not claimed:
        log.info("mirror %s is not pending; nothing to do", mirror_id)
        return
    mirror = Mirror.objects.select_related("user", "workspace").get(pk=mirror_id)
    lines = [f"Copying {mirror.source_image}@{mirror.digest} to {mirror.target_image}"]
    try:
        result = _copy(mirror, lines.append)
    except errors.OciError as exc:
        finish(mirror, lines, reason=str(exc))
    except Exception as exc:  # the mirror must end recorded, whatever went wrong
        log.exception("mirror %s failed", mirror_id)
        finish(mirror, lines, reason=f"The mirror could not run: {exc}")
    else:
        lines.append(f"Copied {result.copied} blobs ({result.copied_bytes} bytes); {result.skipped} were already there")
        finish(mirror, lines, platform=",".join(result.platforms))


def _copy(mirror: Mirror, say):
    identity = Identity(mirror.user, mirror.workspace)
    source, target = parse_reference(mirror.source_image), parse_reference(mirror.target_image)
    # Made here, in sync code: the stored credentials are read from the database.
    source_client, target_client = client_for(identity, source.registry), client_for(identity, target.registry)

    async def copy():
        async with source_client, target_client:
            # By the digest checked at request time: a tag moved since is not what was asked for.
            return await ImageCopy(source_client, source.path, target_client, target.path, say).run(mirror.digest, target.reference)

    return asyncio.run(copy())


def finish(mirror: Mirror, lines: list[str], *, reason: str = "", platform: str = "") -> None:
    succeeded = not reason
    lines.append(f"Mirrored {mirror.target_image}@{mirror.digest}" if succeeded else f"Mirror failed: {reason}")
    Mirror.objects.filter(pk=mirror.pk, status=Mirror.Status.RUNNING).update(
        status=Mirror.Status.SUCCEEDED if succeeded else Mirror.Status.FAILED,
        finished_at=timezone.now(), reason=reason, platform=platform, log=appended("".join(f"{line}\n" for line in lines)),
    )


def fail_mirror(mirror_ids, reason: str) -> int:
    """End mirrors that did not end themselves (their job or worker died, or no worker took them)."""
    return Mirror.objects.filter(pk__in=mirror_ids, status__in=Mirror.ACTIVE).update(
        status=Mirror.Status.FAILED, finished_at=timezone.now(), reason=reason, log=appended(f"Mirror failed: {reason}\n"),
    )


def on_job_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ's failure callback: a job killed (its timeout, a dead work horse) still ends its mirror."""
    fail_mirror([job.args[0]], f"The mirror job failed: {exc_value or exc_type.__name__}")


def _stale_cutoff():
    return timezone.now() - timedelta(seconds=settings.WAVE_MIRROR_TIMEOUT + 60)


def stale_reason() -> str:
    return f"The mirror did not finish within {settings.WAVE_MIRROR_TIMEOUT} seconds (no worker took it, or its worker stopped)"


def is_stale(mirror: Mirror) -> bool:
    return mirror.status in Mirror.ACTIVE and mirror.created_at < _stale_cutoff()


def reap_stale_mirrors() -> int:
    """Fail every mirror still pending or running past its timeout: its worker died, or none ever
    took it. A mirror never stays PENDING for ever (a housekeeping task; reads only show it failed,
    `mirrors.status.fresh`)."""
    stale = Mirror.objects.filter(status__in=Mirror.ACTIVE, created_at__lt=_stale_cutoff())
    return fail_mirror(stale.values("pk"), stale_reason())
