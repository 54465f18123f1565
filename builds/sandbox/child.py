"""Untrusted work in a child process: as the unprivileged build user (WAVE_BUILD_USER), with a memory
limit (WAVE_BUILD_MEMORY), a minimal environment (none of the worker's secrets), killed at the
build's deadline, its output streamed to the build log. What it leaves behind is read without
following links, so that it cannot point the worker (root) at a file of the host.
"""

from __future__ import annotations

import os
import pwd
import resource
import signal
import stat
import sys
from pathlib import Path
from typing import BinaryIO, Callable

from django.conf import settings

from ..process import run_streaming
from .spec import SandboxSpec, sandboxed

# The environment the child gets from the worker's: proxies for its downloads, certificates.
PASSED_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy",
              "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


class SandboxError(Exception):
    pass


def build_user() -> tuple[int, int]:
    """The uid and gid untrusted work runs as. A worker that is not root cannot switch: its own."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(settings.WAVE_BUILD_USER)
    except KeyError:
        raise SandboxError(
            f"The build user '{settings.WAVE_BUILD_USER}' (WAVE_BUILD_USER) does not exist; create it with "
            f"`useradd --system {settings.WAVE_BUILD_USER}` (scripts/stack up does)"
        ) from None
    if entry.pw_uid == 0:
        raise SandboxError(f"The build user '{settings.WAVE_BUILD_USER}' (WAVE_BUILD_USER) is root")
    return entry.pw_uid, entry.pw_gid


def _folder(path: Path, uid: int, gid: int, mode: int) -> Path:
    """`path` as a real folder (never a link), given to uid:gid with `mode` through its descriptor,
    so that nothing can swap a link in between the check and the change."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        raise SandboxError(f"{path} is not a folder (a link?); remove it") from None
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return path


def owned_dir(path: Path, user: tuple[int, int]) -> Path:
    """`path` as a folder of the build user, mode 0700. Its parent must be root's (see root_dir)."""
    return _folder(path, *user, 0o700)


def root_dir(path: Path) -> Path:
    """`path` as root's folder that others may enter but not change (0711): the build user cannot
    put links among the entries root then works on."""
    return _folder(path, 0, 0, 0o711) if os.geteuid() == 0 else _folder(path, os.getuid(), os.getgid(), 0o711)


def read_child_file(directory: Path, name: str, user: tuple[int, int]) -> bytes:
    with open_child_file(directory, name, user) as file:
        return file.read()


def open_child_file(directory: Path, name: str, user: tuple[int, int]) -> BinaryIO:
    """A file the child wrote in `directory`: a regular file of the build user, links not followed
    (a hard link to a file of another user fails the owner check)."""
    folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
    except OSError as exc:
        raise SandboxError(f"The build's child left no readable {name}: {exc.strerror}") from None
    finally:
        os.close(folder)
    file = os.fdopen(fd, "rb")
    info = os.fstat(file.fileno())
    if not stat.S_ISREG(info.st_mode) or info.st_uid != user[0]:
        file.close()
        raise SandboxError(f"The build's child left {name} as something other than its own regular file")
    return file


def _env(work: Path) -> dict[str, str]:
    passed = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8",
            "PYTHONPATH": str(settings.BASE_DIR), **passed}


def run_unprivileged(module: str, args: list[str], *, work: Path, user: tuple[int, int],
                     output: Callable[[str], None], deadline: float, tick: Callable[[], None]) -> int:
    """Run `module.main(args)` (see builds/unprivileged.py) in `work`, in the build sandbox's
    namespaces: its downloads go through the egress proxy (the builder's policy, allow-list
    included), the only way out. Returns its exit status."""
    argv = [sys.executable, "-P", "-m", "builds.unprivileged", str(user[0]), str(user[1]), module, *args]
    limits = {resource.RLIMIT_AS: settings.WAVE_BUILD_MEMORY, resource.RLIMIT_CORE: 0}
    sandbox = SandboxSpec(network="none", allowlist=tuple(settings.WAVE_SSRF_ALLOWLIST),
                          expose=str(settings.BASE_DIR), hide=(str(settings.WAVE_DATA_DIR),))
    with sandboxed(sandbox, output) as launch:
        return run_streaming(launch({"argv": argv}), on_output=output, deadline=deadline, tick=tick,
                             env={**_env(work), **sandbox.environment()}, cwd=str(work), limits=limits)


def exit_description(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with status {status}"
