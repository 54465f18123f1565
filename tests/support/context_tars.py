"""Build-context archives for the tests: wave-cli's own layout, and hostile ones made entry by entry."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile


def wave_cli_context(files: dict[str, bytes], mode: int = 0o644) -> dict:
    """What wave-utils `Packer.layer(dir)` makes of a folder (wave-cli `--context`): regular files only,
    sorted by name, owner root 0/0, mtime 0, POSIX long names, gzipped; as a `data:` layer."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), mode, 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(files[name]))
    return layer_of(buffer.getvalue())


def layer_of(tar: bytes) -> dict:
    compressed = gzip.compress(tar, mtime=0)
    return {
        "location": "data:" + base64.b64encode(compressed).decode(),
        "gzipDigest": "sha256:" + hashlib.sha256(compressed).hexdigest(),
        "gzipSize": len(compressed),
        "tarDigest": "sha256:" + hashlib.sha256(tar).hexdigest(),
    }


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "", mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info, (data if kind == tarfile.REGTYPE else None)
