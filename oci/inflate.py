"""Bounded gzip inflation for layers from strangers: a gzip bomb is stopped early, never held.

Two limits, checked as the output grows: a size limit (total inflated bytes) and a ratio limit
(inflated bytes against the compressed bytes consumed so far, plus a fixed grace so that small or
zero-padded layers pass). A bomb (gzip inflates at most ~1032x) is refused after about `GRACE`
bytes of output whatever its claimed size; the ratio is checked on the prefix, as Apache POI's
`ZipSecureFile` does, so the cost does not depend on how long the bomb goes on. Output comes in
pieces of at most `PIECE` bytes and compressed input is fed in `FEED` bytes, so memory stays a few
hundred KiB (feeding large inputs would make zlib copy its unconsumed tail on every piece).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

FEED = 1 << 16
PIECE = 1 << 18
GRACE = 8 << 20  # bytes of output allowed on top of the ratio


class InflateLimit(Exception):
    """The content inflates past a limit; the message says which."""


def inflate(chunks: Iterable[bytes], limit: int, ratio: int) -> Iterator[bytes]:
    """The inflated content of one gzip member read from `chunks`, in pieces; raises `InflateLimit`
    once it passes `limit` bytes or `ratio` times the compressed bytes read (plus `GRACE`), and
    `zlib.error` when it is not gzip. Data after the member's end is ignored."""
    decompressor = zlib.decompressobj(wbits=31)  # gzip framing
    fed = inflated = 0
    for chunk in chunks:
        for start in range(0, len(chunk), FEED):
            piece = chunk[start : start + FEED]
            fed += len(piece)
            while True:  # until this piece is consumed and zlib holds no more output for it
                data = decompressor.decompress(piece, PIECE)
                piece = decompressor.unconsumed_tail
                inflated += len(data)
                if inflated > limit:
                    raise InflateLimit(f"the content inflates to more than {limit} bytes")
                if inflated > ratio * (fed - len(piece)) + GRACE:
                    raise InflateLimit(
                        f"the content inflates more than {ratio} times its compressed size (a gzip bomb?)"
                    )
                if data:
                    yield data
                if decompressor.eof or (not piece and len(data) < PIECE):
                    break
            if decompressor.eof:
                return
    if not decompressor.eof:
        raise zlib.error("the gzip stream is truncated")


def inflate_bytes(blob: bytes, limit: int, ratio: int) -> Iterator[bytes]:
    return inflate((blob,), limit, ratio)


class GzipReader:
    """A read-only file of the inflated content of `raw`, within the same limits (for `tarfile`'s
    uncompressed stream mode)."""

    def __init__(self, raw, limit: int, ratio: int):
        self._pieces = inflate(iter(lambda: raw.read(FEED), b""), limit, ratio)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
