"""Deterministic layer tarballs: sorted entries, fixed mtimes, uid/gid 0, gzip without a timestamp.

The same files give the same `tarDigest` and `gzipDigest` on every machine.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass, field

from .digest import sha256_digest

EPOCH = 0


@dataclass(frozen=True)
class Layer:
    tar_digest: str  # the diff_id
    gzip: bytes = field(repr=False)
    gzip_digest: str = ""

    @property
    def size(self) -> int:
        return len(self.gzip)


def gzip_layer(tar_bytes: bytes) -> Layer:
    blob = gzip.compress(tar_bytes, compresslevel=6, mtime=EPOCH)
    return Layer(sha256_digest(tar_bytes), blob, sha256_digest(blob))


class LayerBuilder:
    """Collects files, directories and symlinks, then writes them in path order."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

    def _info(self, path: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(path.strip("/"))
        info.type, info.mode, info.mtime = kind, mode, EPOCH
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    def _parents(self, path: str) -> None:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent not in self._entries:
                self._entries[parent] = (self._info(parent, tarfile.DIRTYPE, 0o755), None)

    def add_dir(self, path: str, mode: int = 0o755) -> LayerBuilder:
        self._parents(path)
        self._entries[path.strip("/")] = (self._info(path, tarfile.DIRTYPE, mode), None)
        return self

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> LayerBuilder:
        self._parents(path)
        info = self._info(path, tarfile.REGTYPE, mode)
        info.size = len(data)
        self._entries[path.strip("/")] = (info, data)
        return self

    def add_symlink(self, path: str, target: str) -> LayerBuilder:
        self._parents(path)
        info = self._info(path, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self._entries[path.strip("/")] = (info, None)
        return self

    def tar(self) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self._entries):
                info, data = self._entries[name]
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return out.getvalue()

    def build(self) -> Layer:
        return gzip_layer(self.tar())
