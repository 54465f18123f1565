"""gzip bombs for tests and benchmarks, made in milliseconds rather than by compressing gigabytes."""

from __future__ import annotations

import struct
import tarfile
import zlib

MIB = 1 << 20


def gzip_bomb(mebibytes: int, prefix: bytes = b"") -> bytes:
    """A valid gzip of `prefix` and `mebibytes` MiB of zeros (about 1 KiB per MiB). After a full
    flush the compressor starts afresh, so every further MiB compresses to the same bytes: two are
    compressed and the second repeated. The CRC is computed one MiB at a time, never held whole."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MIB)
    start = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    body = start + first + repeated * (mebibytes - 1) + compressor.flush()
    size = (len(prefix) + mebibytes * MIB) & 0xFFFFFFFF
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<II", crc, size)


def tar_bomb(mebibytes: int) -> bytes:
    """A tar.gz of one file of `mebibytes` MiB of zeros (its end-of-archive blocks are zeros too)."""
    info = tarfile.TarInfo("zeros")
    info.size = mebibytes * MIB
    return gzip_bomb(mebibytes + 1, prefix=info.tobuf(format=tarfile.USTAR_FORMAT))
