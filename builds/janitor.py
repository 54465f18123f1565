"""A build's janitor: a small process that cleans up after the build however it ends, SIGKILL included.

A killed worker runs no cleanup code, so every build starts a janitor first. The janitor runs in a
session of its own without PDEATHSIG, outside the chain that dies with the worker, and blocks on
the read end of a pipe whose write end only the build's process holds. End of file comes when that
process closes it or dies, however it dies. The janitor then:

1. kills any process left of the build (they carry `WAVE_BUILD_MARK=<mark>` in their environment),
2. removes the build's work folder, which holds its `auth.json`, and
3. as soon as no build runs on the builder's storage (see `storage.storage_lock`), removes the leftover
   working containers and their mounts, and prunes the layer cache to WAVE_BUILD_CACHE_SIZE bytes
   (to nothing after a build that ran out of disk space, if the disk is still less than a quarter free).

Run as `python -m builds.janitor <fd> <mark> <work> <storage> <cache-size>`; no Django here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .storage import prune, remove_leftovers, storage_lock

MARK = "WAVE_BUILD_MARK"
DISK_FULL = b"disk-full\n"
PROJECT = Path(__file__).resolve().parent.parent


class Janitor:
    """The build's side: its work folder, the storage's shared lock, and the pipe to its janitor."""

    def __init__(self, build_id: str, work_root: Path, storage: Path, cache_size: int):
        self.build_id, self.work_root, self.storage, self.cache_size = build_id, work_root, storage, cache_size

    def __enter__(self) -> Janitor:
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix=f"{self.build_id}-", dir=self.work_root))
        self.mark = secrets.token_hex(8)
        read, self._pipe = os.pipe()  # neither end is inherited by what the build runs
        subprocess.Popen(
            [sys.executable, "-m", "builds.janitor", str(read), self.mark, str(self.work), str(self.storage), str(self.cache_size)],
            cwd=PROJECT, pass_fds=(read,), start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )
        os.close(read)
        os.environ[MARK] = self.mark  # inherited by every process the build starts
        self._lock = storage_lock(self.storage)
        self._lock.__enter__()
        return self

    def disk_full(self) -> None:
        """Tell the janitor to empty the layer cache: the build ran out of disk space."""
        os.write(self._pipe, DISK_FULL)

    def __exit__(self, *exc) -> None:
        os.environ.pop(MARK, None)
        shutil.rmtree(self.work, ignore_errors=True)
        self._lock.__exit__(None, None, None)
        os.close(self._pipe)  # the janitor wakes up


def kill_marked(mark: str, patience: float = 10.0) -> None:
    """SIGKILL every process whose environment carries the build's mark, until none is left."""
    tag = f"{MARK}={mark}".encode()
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        marked = [pid for pid in _pids() if pid not in (os.getpid(), os.getppid()) and tag in _environ(pid)]
        if not marked:
            return
        for pid in marked:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _environ(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or a kernel thread
        return []


def main(fd: int, mark: str, work: Path, storage: Path, cache_size: int) -> None:
    disk_full = False
    with os.fdopen(fd, "rb") as pipe:
        for line in pipe:  # until every holder of the write end is gone
            disk_full |= line == DISK_FULL
    kill_marked(mark)
    shutil.rmtree(work, ignore_errors=True)
    with storage_lock(storage, exclusive=True):
        remove_leftovers(storage)
        prune(storage, 0 if disk_full and _nearly_full(storage) else cache_size)


def _nearly_full(storage: Path) -> bool:
    """Whether the disk is still short of space once the failed build is gone: then the cache is what
    fills it. (A RUN step can print "no space left on device" on purpose; that alone empties nothing.)"""
    stats = os.statvfs(storage)
    return stats.f_bavail < stats.f_blocks // 4


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
