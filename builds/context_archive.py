"""A `buildContext` tar.gz from a stranger: checked member by member, unpacked without trusting it.

Read as a stream, never inflated whole, within a size and a ratio limit (`oci.inflate`). Accepted:
regular files, folders, hard links to a regular file of the same archive, and relative symlinks
that resolve inside the context (through any other symlink of the archive). Refused with a message
naming the entry: absolute names, `..`, devices, FIFOs, a path through a symlink, a name used
twice, more than `limits.entries` entries or `limits.size` bytes unpacked (a sparse entry counts at
its full size).
Modes keep only the permission bits (no setuid, setgid or sticky); owners are not restored.
Symlinks are made last, so no file is ever written through one. No Django here.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oci.inflate import GzipReader, InflateLimit

CHUNK = 1 << 16
MAX_LINK_HOPS = 40
MAX_NAME, MAX_PATH = 255, 1024  # bytes of a name's component, of the whole name (the builder's context sits deeper)


class ContextError(Exception):
    """The archive is refused; the message names the entry and why."""


@dataclass(frozen=True)
class Limits:
    entries: int
    size: int  # bytes of file content, unpacked
    ratio: int = 100  # inflated bytes per compressed byte read (oci.inflate), WAVE_MAX_LAYER_RATIO's default

    @property
    def inflated(self) -> int:
        """Bytes the tar stream may inflate to: the content plus headers (a PAX one too) and padding,
        up to 2 KiB per entry."""
        return self.size + 2048 * (self.entries + 10)


def _shown(name: str) -> str:
    return name if len(name) <= 200 else name[:200] + "..."


def _clean_name(name: str, what: str = "entry") -> tuple[str, ...]:
    """`./a//b/` -> ("a", "b"); refuses absolute names, `..`, NUL and the empty name."""
    if "\0" in name:
        raise ContextError(f"Build context {what} '{_shown(name)}' contains a NUL byte")
    if name.startswith("/"):
        raise ContextError(f"Build context {what} '{_shown(name)}' is an absolute path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ContextError(f"Build context {what} '{_shown(name)}' contains '..'")
    if len(name.encode()) > MAX_PATH or any(len(p.encode()) > MAX_NAME for p in parts):
        raise ContextError(f"Build context {what} '{_shown(name)}' is too long a name")
    return parts


class _Checker:
    """Everything the archive declares, checked entry by entry and then as a whole."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.entries = 0
        self.size = 0
        self.kinds: dict[tuple[str, ...], str] = {}  # path -> "dir" | "file" | "link"
        self.symlinks: dict[tuple[str, ...], str] = {}  # path -> target

    def check(self, member: tarfile.TarInfo) -> tuple[str, ...]:
        self.entries += 1
        if self.entries > self.limits.entries:
            raise ContextError(f"The build context has more than {self.limits.entries} entries")
        parts = _clean_name(member.name)
        if not parts:
            if member.isdir():
                return parts  # "./": the context folder itself
            raise ContextError(f"Build context entry '{_shown(member.name)}' has no name")
        for depth in range(1, len(parts)):
            kind = self.kinds.get(parts[:depth])
            if kind == "link":
                raise ContextError(
                    f"Build context entry '{_shown(member.name)}' goes through the symlink '{'/'.join(parts[:depth])}'"
                )
            if kind == "file":
                raise ContextError(f"Build context entry '{_shown(member.name)}' is under the file '{'/'.join(parts[:depth])}'")
            self.kinds.setdefault(parts[:depth], "dir")
        previous = self.kinds.get(parts)
        kind = self._kind(member, parts)
        if previous is not None and not (previous == kind == "dir"):
            raise ContextError(f"Build context entry '{_shown(member.name)}' appears more than once")
        self.kinds[parts] = kind
        if member.isfile():
            self.size += member.size
            if self.size > self.limits.size:
                raise ContextError(
                    f"The build context unpacks to more than {self.limits.size} bytes (at entry '{_shown(member.name)}')"
                )
        return parts

    def _kind(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> str:
        if member.isdir():
            return "dir"
        if member.isfile():
            return "file"
        if member.issym():
            if member.linkname.startswith("/"):
                raise ContextError(
                    f"Build context symlink '{_shown(member.name)}' points to the absolute path '{_shown(member.linkname)}'"
                )
            if "\0" in member.linkname or not member.linkname:
                raise ContextError(f"Build context symlink '{_shown(member.name)}' has no usable target")
            self.symlinks[parts] = member.linkname
            return "link"
        if member.islnk():
            target = _clean_name(member.linkname, f"hard link '{_shown(member.name)}' target")
            if self.kinds.get(target) != "file":
                raise ContextError(
                    f"Build context hard link '{_shown(member.name)}' must point to a regular file earlier in the "
                    f"archive, not '{_shown(member.linkname)}'"
                )
            return "file"
        what = "device" if member.ischr() or member.isblk() else "FIFO" if member.isfifo() else "special file"
        raise ContextError(f"Build context entry '{_shown(member.name)}' is a {what}: only files, folders and links are allowed")

    def check_symlinks(self) -> None:
        """Every symlink resolves inside the context, following the archive's other symlinks."""
        for path, target in self.symlinks.items():
            self._resolve(path[:-1], target, path, 0)

    def _resolve(self, base: tuple[str, ...], target: str, origin: tuple[str, ...], hops: int) -> tuple[str, ...]:
        if hops > MAX_LINK_HOPS:
            raise ContextError(f"Build context symlink '{'/'.join(origin)}' is part of a loop")
        current = list(base)
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not current:
                    raise ContextError(
                        f"Build context symlink '{'/'.join(origin)}' points outside the context ('{_shown(self.symlinks[origin])}')"
                    )
                current.pop()
                continue
            current.append(part)
            if (link := self.symlinks.get(tuple(current))) is not None:
                current = list(self._resolve(tuple(current[:-1]), link, origin, hops + 1))
        return tuple(current)


STREAM_ERRORS = (InflateLimit, tarfile.TarError, zlib.error, EOFError, OSError)


def _stream_error(exc: Exception) -> ContextError:
    if isinstance(exc, InflateLimit):
        return ContextError(f"The build context is refused: {exc}")
    return ContextError(f"The build context is not a valid tar.gz archive: {exc}")


def _members(stream: BinaryIO, checker: _Checker):
    try:
        with tarfile.open(fileobj=GzipReader(stream, checker.limits.inflated, checker.limits.ratio), mode="r|") as archive:
            for member in archive:
                yield checker.check(member), member, archive
    except STREAM_ERRORS as exc:
        raise _stream_error(exc) from None


def check_archive(stream: BinaryIO, limits: Limits) -> None:
    """Read the whole archive (file contents included, for the gzip framing) and refuse what `unpack` would."""
    checker = _Checker(limits)
    for _parts, member, archive in _members(stream, checker):
        if member.isfile():
            _copy(archive.extractfile(member), None, member)
    checker.check_symlinks()


def unpack(stream: BinaryIO, destination: Path, limits: Limits) -> None:
    """Unpack into the existing, empty folder `destination`."""
    checker = _Checker(limits)
    root = str(destination)
    for parts, member, archive in _members(stream, checker):
        if not parts:
            continue
        path = os.path.join(root, *parts)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if member.isdir():
            os.makedirs(path, mode=0o755, exist_ok=True)
            os.chmod(path, (member.mode & 0o777) | 0o700, follow_symlinks=False)
        elif member.isfile():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                _copy(archive.extractfile(member), out, member)
            os.chmod(path, member.mode & 0o777, follow_symlinks=False)
        elif member.islnk():
            os.link(os.path.join(root, *_clean_name(member.linkname)), path, follow_symlinks=False)
    checker.check_symlinks()
    for parts, target in checker.symlinks.items():
        os.symlink(target, os.path.join(root, *parts))


def _copy(source, out, member: tarfile.TarInfo) -> None:
    """Copy one member in chunks; its declared size was already counted against the limit."""
    remaining = member.size
    while remaining > 0:
        try:  # an entry's content is inflated here, outside `_members`
            chunk = source.read(min(CHUNK, remaining))
        except STREAM_ERRORS as exc:
            raise _stream_error(exc) from None
        if not chunk:
            raise ContextError(f"Build context entry '{_shown(member.name)}' is truncated")
        remaining -= len(chunk)
        if out is not None:
            out.write(chunk)
