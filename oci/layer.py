"""Deterministic layer tarballs: sorted entries, fixed mtimes, uid/gid 0, gzip without a timestamp.

The same files give the same `tarDigest` and `gzipDigest` on every machine with the same zlib
(see README, "Layers are streams"). A layer is packed as a stream: the tar goes through a writer
that hashes it, compresses it and hashes the gzip on the fly, so memory does not grow with its size.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

EPOCH = 0
LEVEL = 6
GZIP_WBITS = 31  # zlib writes the gzip header (mtime 0, its own OS byte) and trailer


@dataclass(frozen=True)
class Layer:
    """A small layer held in memory (tests, `containerConfig` layers); big ones are `LayerFile`s."""

    tar_digest: str  # the diff_id
    gzip: bytes = field(repr=False)
    gzip_digest: str = ""

    @property
    def size(self) -> int:
        return len(self.gzip)


@dataclass(frozen=True)
class LayerFile:
    """A layer's gzip on disk, with its digests and size."""

    path: Path
    tar_digest: str  # the diff_id
    gzip_digest: str
    size: int


class _GzipSink:
    """A write-only file for `tarfile`: hashes the tar, gzips it into `out` and hashes that too.
    The bytes are those of `zlib.compress(tar, 6, wbits=31)`, which `gzip.compress(tar, 6, mtime=0)`
    returned for the layers built before: deflate's output does not depend on how input is split."""

    def __init__(self, out: BinaryIO):
        self.out, self.tar_hash, self.gzip_hash = out, hashlib.sha256(), hashlib.sha256()
        self.length, self.gzip_size = 0, 0
        self._deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, GZIP_WBITS)

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.gzip_hash.update(data)
            self.gzip_size += len(data)

    def write(self, data: bytes) -> int:
        self.tar_hash.update(data)
        self.length += len(data)
        self._emit(self._deflate.compress(data))
        return len(data)

    def tell(self) -> int:
        return self.length

    def finish(self) -> tuple[str, str, int]:
        self._emit(self._deflate.flush())
        return "sha256:" + self.tar_hash.hexdigest(), "sha256:" + self.gzip_hash.hexdigest(), self.gzip_size


def gzip_layer(tar_bytes: bytes) -> Layer:
    out = io.BytesIO()
    sink = _GzipSink(out)
    sink.write(tar_bytes)
    tar_digest, gzip_digest, _ = sink.finish()
    return Layer(tar_digest, out.getvalue(), gzip_digest)


class LayerBuilder:
    """Collects files, directories and symlinks, then writes them in path order. A file's content
    is bytes, or the path of a file on disk that is read only while the layer is written."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tarfile.TarInfo, bytes | Path | None]] = {}

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

    def add_file(self, path: str, data: bytes | Path, mode: int = 0o644) -> LayerBuilder:
        """`data` as bytes, or a regular file's path (its size is taken now, its bytes when written)."""
        self._parents(path)
        info = self._info(path, tarfile.REGTYPE, mode)
        info.size = len(data) if isinstance(data, bytes) else os.stat(data).st_size
        self._entries[path.strip("/")] = (info, data)
        return self

    def add_symlink(self, path: str, target: str) -> LayerBuilder:
        self._parents(path)
        info = self._info(path, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self._entries[path.strip("/")] = (info, None)
        return self

    def _write_tar(self, out) -> None:
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self._entries):
                info, data = self._entries[name]
                if isinstance(data, Path):
                    with data.open("rb") as file:  # copied in tarfile's 16 KiB blocks
                        tar.addfile(info, file)
                else:
                    tar.addfile(info, io.BytesIO(data) if data is not None else None)

    def tar(self) -> bytes:
        out = io.BytesIO()
        self._write_tar(out)
        return out.getvalue()

    def build(self) -> Layer:
        """The layer in memory: for small layers only."""
        out = io.BytesIO()
        sink = _GzipSink(out)
        self._write_tar(sink)
        tar_digest, gzip_digest, _ = sink.finish()
        return Layer(tar_digest, out.getvalue(), gzip_digest)

    def write(self, target: Path) -> LayerFile:
        """The layer's gzip streamed into the new file `target`, hashed as it is written."""
        with target.open("xb") as out:
            sink = _GzipSink(out)
            self._write_tar(sink)
            tar_digest, gzip_digest, size = sink.finish()
        return LayerFile(target, tar_digest, gzip_digest, size)
