"""RQ jobs: plain functions taking ids, safe to run twice (the first run claims the build)."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils import timezone

from .builders import get_builder
from .builders.base import BuildFailed
from .conda.assemble import run_conda_build
from .conda.solve import SolveError
from .context import build_spec, write_context
from .logs import BuildLog
from .models import Build
from .process import DeadlineExceeded
from .reconcile import reap_stale_builds
from .sandbox import SandboxError

log = logging.getLogger(__name__)
HEARTBEAT_EVERY = 5.0  # seconds


class Heartbeat(threading.Thread):
    """Beats for the whole build, whatever step it is in (a solve or a push can take minutes)."""

    def __init__(self, build_id: str):
        super().__init__(daemon=True, name=f"heartbeat-{build_id}")
        self.build_id, self._stop_event = build_id, threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(HEARTBEAT_EVERY):
                Build.objects.filter(pk=self.build_id, status=Build.Status.RUNNING).update(heartbeat_at=timezone.now())
        finally:
            connections.close_all()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class ErrorTracker:
    """Passes output on to the log and remembers the builder's last error line, for the reason."""

    def __init__(self, log: BuildLog):
        self.log, self.last_error, self._partial = log, "", ""

    def __call__(self, text: str) -> None:
        self.log.write(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.lower().startswith(("error", "fatal")):
                self.last_error = line.strip()


def run_build(build_id: str) -> None:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    now = timezone.now()
    claimed = Build.objects.filter(pk=build_id, status=Build.Status.PENDING).update(
        status=Build.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker
    )
    if not claimed:
        log.info("build %s is not pending; nothing to do", build_id)
        return
    reap_stale_builds()
    build = Build.objects.select_related("user", "workspace").get(pk=build_id)
    build_log = BuildLog(build.id)
    build_log.line(f"Building {build.target_image} ({build.platform}) as build {build.id} on {worker}")
    output = ErrorTracker(build_log)
    heartbeat = Heartbeat(build.id)
    heartbeat.start()
    deadline = time.monotonic() + build.timeout

    def tick() -> None:
        build_log.tick()
        if time.monotonic() > deadline:
            raise DeadlineExceeded()

    work_root = Path(settings.WAVE_DATA_DIR) / "builds"
    work_root.mkdir(parents=True, exist_ok=True)
    try:
        if build.context.get("builder") == "conda":
            digest = run_conda_build(build, output, deadline, tick)
        else:
            with tempfile.TemporaryDirectory(prefix=f"{build.id}-", dir=work_root) as work:
                context = write_context(build, Path(work))
                digest = get_builder().build(build_spec(build, context), output, deadline, tick)
    except DeadlineExceeded:
        finish(build, build_log, reason=f"The build timed out after {build.timeout} seconds and was stopped")
    except BuildFailed as exc:
        finish(build, build_log, reason=output.last_error or str(exc), exit_status=exc.exit_status)
    except (SolveError, SandboxError) as exc:
        finish(build, build_log, reason=str(exc))
    except Exception as exc:  # the build must end recorded, whatever went wrong
        log.exception("build %s failed", build.id)
        finish(build, build_log, reason=f"The build could not run: {exc}")
    else:
        finish(build, build_log, digest=digest)
    finally:
        heartbeat.stop()


def finish(build: Build, build_log: BuildLog, *, digest: str = "", reason: str = "", exit_status: int | None = None) -> None:
    succeeded = bool(digest)
    build_log.line(f"Pushed {build.target_image}@{digest}" if succeeded else f"Build failed: {reason}")
    build_log.flush()
    Build.objects.filter(pk=build.id, status=Build.Status.RUNNING).update(
        status=Build.Status.SUCCEEDED if succeeded else Build.Status.FAILED,
        finished_at=timezone.now(),
        digest=digest,
        reason=reason,
        exit_status=0 if succeeded else exit_status,
    )


def on_job_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ's failure callback: a job that died outside `run_build`'s own handling still ends its build."""
    build_id = job.args[0]
    reason = f"The build job failed: {exc_value}"
    Build.objects.filter(pk=build_id, status__in=[Build.Status.PENDING, Build.Status.RUNNING]).update(
        status=Build.Status.FAILED, finished_at=timezone.now(), reason=reason
    )
