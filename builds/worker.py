"""The RQ worker class builds run under (`rqworker --worker-class builds.worker.BuildWorker`).

It listens to the build queues of the platforms it runs (`with_platform_queues`) before the ones named.

RQ forks a work horse per job and puts it in a process group of its own, so a signal to the
worker's group misses it, and a worker killed outright leaves it building on, unsupervised. Here the
horse dies with its worker (PDEATHSIG), and its builder with the horse, so the whole chain goes
together; a horse that dies (OOM, a kill) fails its build at once rather than at the heartbeat timeout.

So a worker must not quit on a Redis restart either: RQ quits at any error from its own heartbeat
(sent every 30 s while a job runs), which would take the horse and a healthy build with it. A lost beat
is skipped instead; the worker's key lives 90 s, and redis-py reconnects on the next command.

And a horse must start with no database connection of its worker's. Once the worker itself has
queried (failing a killed horse's build, an abandoned job's callback), Django's process-wide psycopg
pool is open in it; a horse forked then inherited that pool without the threads that refill it, so
after a Postgres restart it never got a connection again. The worker closes its pool before each fork.
"""

from __future__ import annotations

import os
from contextlib import suppress

import django_rq
from django.conf import settings
from django.db import DatabaseError, connections
from redis import exceptions as redis_errors
from rq import Queue, Worker

from .jobs import fail_build
from .platforms import queue_name
from .process import die_with_parent

BUILD_JOB = "builds.jobs.run_build"
REDIS_LOST = (redis_errors.ConnectionError, redis_errors.TimeoutError)


class BuildWorker(Worker):
    def __init__(self, queues, *args, **kwargs) -> None:
        super().__init__(with_platform_queues(queues), *args, **kwargs)

    def fork_work_horse(self, job, queue) -> None:
        self._worker_pid = os.getpid()
        close_database_pools()
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job, queue) -> None:
        die_with_parent()
        if os.getppid() != self._worker_pid:  # the worker died before PDEATHSIG was set
            os._exit(1)
        super().main_work_horse(job, queue)

    def heartbeat(self, *args, **kwargs) -> None:
        try:
            super().heartbeat(*args, **kwargs)
        except REDIS_LOST as exc:
            self.log.warning("Worker %s: heartbeat skipped, Redis is unreachable: %s", self.name, exc)

    def maintain_heartbeats(self, *args, **kwargs) -> None:
        try:
            super().maintain_heartbeats(*args, **kwargs)
        except REDIS_LOST as exc:
            self.log.warning("Worker %s: job heartbeat skipped, Redis is unreachable: %s", self.name, exc)

    def request_force_stop(self, signum, frame) -> None:
        """A cold shutdown (a second TERM) kills the horse: its build ends failed now, not at the heartbeat timeout."""
        job = self.get_current_job() if self.horse_pid else None
        try:
            super().request_force_stop(signum, frame)
        except SystemExit:
            if job is not None and job.func_name == BUILD_JOB:
                fail_build(job.args[0], "The worker running this build was stopped")
            raise

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        if job.func_name != BUILD_JOB:
            return
        how = f"was killed by signal {os.WTERMSIG(ret_val)}" if ret_val and os.WIFSIGNALED(ret_val) else f"exited with {ret_val}"
        fail_build(job.args[0], f"The worker process running this build {how}")


def with_platform_queues(queues):
    """A worker told to take queue Q (`rqworker default`) takes first the build queues of Q for its
    platforms (WAVE_WORKER_PLATFORMS: `default-linux-amd64`), then Q itself: mirrors, and build jobs
    queued on Q before builds were queued per platform, so an upgrade loses none."""
    given = [queues] if isinstance(queues, (str, Queue)) else list(queues)
    names = [q if isinstance(q, str) else q.name for q in given]
    extra = [
        name for q in names for name in (queue_name(q, p) for p in settings.WAVE_WORKER_PLATFORMS)
        if name in settings.RQ_QUEUES and name not in names
    ]
    if given and all(isinstance(q, str) for q in given):
        return list(dict.fromkeys(extra)) + given
    return [django_rq.get_queue(name) for name in dict.fromkeys(extra)] + given


def close_database_pools() -> None:
    """Close this process's connections and pools; the next query opens a fresh pool."""
    with suppress(DatabaseError):  # a broken connection is forgotten all the same
        connections.close_all()
    for alias in connections:
        if hasattr(connections[alias], "close_pool"):  # PostgreSQL's wrapper; a pool is made and closed if none
            connections[alias].close_pool()
