"""Running a builder command: output streamed as it comes, a deadline, the whole tree killed."""

from __future__ import annotations

import codecs
import ctypes
import functools
import os
import resource
import selectors
import signal
import subprocess
import time
from typing import Callable

PR_SET_PDEATHSIG = 1


class DeadlineExceeded(Exception):
    pass


def die_with_parent() -> None:
    """SIGKILL this process when the thread that started it dies: a builder must not build on unobserved."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _child_setup(limits: dict[int, int]) -> None:
    die_with_parent()
    for limit, value in limits.items():
        resource.setrlimit(limit, (value, value))


def _kill_tree(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the builder and everything it started
    except ProcessLookupError:
        pass
    process.wait()


def run_streaming(
    argv: list[str],
    *,
    on_output: Callable[[str], None],
    deadline: float,
    tick: Callable[[], None] = lambda: None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    limits: dict[int, int] | None = None,
) -> int:
    """Run `argv`, passing its output (stdout and stderr) to `on_output` as it arrives.

    `tick` is called at least every second (a heartbeat). Past `deadline` (a `time.monotonic()`
    value) the process tree is killed and DeadlineExceeded raised. `limits` are `resource` limits
    (RLIMIT_AS: bytes) for the process. Returns the exit status (negative: killed by that signal).
    """
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, cwd=cwd, start_new_session=True, preexec_fn=functools.partial(_child_setup, limits or {}),
    )
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    fd = process.stdout.fileno()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeadlineExceeded()
                ready = selector.select(min(1.0, left))
                tick()  # may raise too (the job's own deadline): the tree dies either way
                if not ready:
                    continue
                data = os.read(fd, 65536)
                if not data:
                    break
                on_output(decoder.decode(data))
    except BaseException:
        _kill_tree(process)
        process.stdout.close()
        raise
    on_output(decoder.decode(b"", final=True))
    process.stdout.close()
    try:
        return process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        _kill_tree(process)
        raise DeadlineExceeded() from None
