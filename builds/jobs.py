"""RQ jobs: plain functions taking ids, safe to run twice (the first run claims the build)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils import timezone
from rq.exceptions import AbandonedJobError

from .builders import builder_storage, get_builder
from .builders.base import BuildFailed
from .archive import archive_soon
from .conda.assemble import run_conda_build
from .conda.solve import SolveError
from .context import build_spec, write_context
from .ended import announce_end
from .janitor import Janitor
from .logs import BuildLog, line_appended
from .models import Build
from .output import BuildOutput
from .process import DeadlineExceeded
from .retry import LOST, Backoff, reconnect, retry_lost
from .sandbox.child import SandboxError
from .sif import SifError
from .sif_build import build_sif

log = logging.getLogger(__name__)
HEARTBEAT_EVERY = 5.0  # seconds
FINISH_WITHIN = 120.0  # seconds to wait for the database to record a build's end; then the reaper does


class Heartbeat(threading.Thread):
    """Beats for the whole build, whatever step it is in (a solve or a push can take minutes), and
    through a database restart: a failed beat drops its connection and is tried again sooner."""

    def __init__(self, build_id: str):
        super().__init__(daemon=True, name=f"heartbeat-{build_id}")
        self.build_id, self._stop_event = build_id, threading.Event()

    def run(self) -> None:
        backoff, wait = Backoff(cap=HEARTBEAT_EVERY), HEARTBEAT_EVERY
        try:
            while not self._stop_event.wait(wait):
                try:
                    Build.objects.filter(pk=self.build_id, status=Build.Status.RUNNING).update(heartbeat_at=timezone.now())
                except LOST as exc:
                    reconnect()
                    wait = backoff.failed()
                    log.warning("build %s: heartbeat failed (%s); retrying in %.1f s", self.build_id, exc, wait)
                else:
                    backoff.succeeded()
                    wait = HEARTBEAT_EVERY
        finally:
            connections.close_all()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_build(build_id: str) -> None:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    now = timezone.now()
    claimed = Build.objects.filter(pk=build_id, status=Build.Status.PENDING).update(
        status=Build.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker, reason="",  # "no worker" no more
    )
    if not claimed:
        log.info("build %s is not pending; nothing to do", build_id)
        return
    build = Build.objects.select_related("user", "workspace").get(pk=build_id)
    build_log = BuildLog(build.id)
    build_log.line(f"Building {build.target_image} ({build.platform}) as build {build.id} on {worker}")
    heartbeat = Heartbeat(build.id)
    heartbeat.start()
    deadline = time.monotonic() + build.timeout

    def tick() -> None:
        build_log.tick()
        if time.monotonic() > deadline:
            raise DeadlineExceeded()

    storage = builder_storage()
    janitor = Janitor(build.id, Path(settings.WAVE_DATA_DIR) / "builds", storage, settings.WAVE_BUILD_CACHE_SIZE)
    with janitor:
        # The worker's own paths never reach the log: the work folder reads as /build. The builder
        # prints some with their symlinks resolved (the context folder), so those are rewritten too.
        paths = {
            str(janitor.work): "/build", str(storage): "<storage>",
            str(settings.WAVE_DATA_DIR): "<data>", str(settings.BASE_DIR): "<app>",
        }
        output = BuildOutput(build_log, {**{os.path.realpath(path): shown for path, shown in paths.items()}, **paths})
        try:
            if build.context.get("builder") == "conda":
                digest = run_conda_build(build, output, deadline, tick)
            else:
                spec = build_spec(build, write_context(build, janitor.work))
                for credentials in spec.credentials.values():
                    output.rewrite(credentials.password, "******")
                if build.format == Build.Format.SIF:
                    digest = build_sif(build, spec, output, deadline, tick)
                else:
                    digest = get_builder().build(spec, output, deadline, tick)
        except DeadlineExceeded:
            finish(build, output, reason=f"The build timed out after {build.timeout} seconds and was stopped")
        except BuildFailed as exc:
            if output.disk_full:
                janitor.disk_full()
            finish(build, output, reason=output.reason or str(exc), public_reason=output.public_reason or str(exc),
                   exit_status=exc.exit_status)
        except (SolveError, SandboxError, SifError) as exc:
            finish(build, output, reason=str(exc))
        except Exception as exc:  # the build must end recorded, whatever went wrong
            log.exception("build %s failed", build.id)
            finish(build, output, reason=f"The build could not run: {exc}", public_reason=unexpected("The build could not run", type(exc)))
        else:
            finish(build, output, digest=digest)
        finally:
            heartbeat.stop()


def finish(build: Build, output: BuildOutput, *, digest: str = "", reason: str = "", public_reason: str | None = None,
           exit_status: int | None = None) -> None:
    """Record the build's end and the rest of its log in one write, retried while the database is away
    (one write: a retry after a lost answer cannot append the log twice, the status no longer RUNNING).
    `public_reason`: the reason without the log's lines, when it quotes some (BuildOutput.public_reason)."""
    succeeded, reason = bool(digest), output.clean(reason)
    public_reason = reason if public_reason is None else output.clean(public_reason)
    output.close()
    output.log.line(f"Pushed {build.target_image}@{digest}" if succeeded else f"Build failed: {reason}")
    rest = output.log.drain()  # the UPDATE's log fields
    status = Build.Status.SUCCEEDED if succeeded else Build.Status.FAILED

    def record() -> int:
        return Build.objects.filter(pk=build.id, status=Build.Status.RUNNING).update(
            status=status, finished_at=timezone.now(), digest=digest, reason=reason, public_reason=public_reason,
            exit_status=0 if succeeded else exit_status, steps=output.steps, **rest,
        )

    ended = retry_lost(record, FINISH_WITHIN, f"recording the end of build {build.id}")
    if ended:  # otherwise the reaper ended it first, and announced it
        announce_end(build.id, status, reason)
        archive_soon(build.id)


def unexpected(what: str, kind: type) -> str:
    """The public reason for an error nobody expected: its kind only. Its text can quote anything the
    build handled (a database error quotes the statement, and the statement the build's output)."""
    return f"{what} ({kind.__name__}); its log, shown to its owner's organisation and operators, says why"


def fail_build(build_id: str, reason: str, public_reason: str | None = None) -> None:
    """End a build that did not end itself (its job or its process died), its reason last in its log."""
    ended = Build.objects.filter(pk=build_id, status__in=[Build.Status.PENDING, Build.Status.RUNNING]).update(
        status=Build.Status.FAILED, finished_at=timezone.now(), reason=reason,
        public_reason=reason if public_reason is None else public_reason,
        **line_appended(f"Build failed: {reason}"),
    )
    if ended:
        announce_end(build_id, Build.Status.FAILED, reason)
        archive_soon(build_id)


def on_job_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ's failure callback: a job that died outside `run_build`'s own handling still ends its build."""
    if isinstance(exc_value, AbandonedJobError):  # RQ's cleanup found it taken by a worker that is gone
        fail_build(job.args[0], "The worker that took this build stopped before running it (killed or lost)")
        return
    fail_build(job.args[0], f"The build job failed: {exc_value or exc_type.__name__}",
               public_reason=unexpected("The build job failed", exc_type))
