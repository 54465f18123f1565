"""oci.inflate: gzip from strangers inflated within a size and a ratio limit, streamed."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib

import pytest

from oci.inflate import FEED, GRACE, PIECE, GzipReader, InflateLimit, inflate_bytes
from tests.support.bombs import gzip_bomb


def test_it_gives_back_what_gzip_compressed_in_bounded_pieces():
    content = os.urandom(300_000) + b"a" * 3_000_000 + os.urandom(10)
    pieces = list(inflate_bytes(gzip.compress(content), 1 << 30, 100))
    assert b"".join(pieces) == content
    assert max(len(p) for p in pieces) <= PIECE


@pytest.mark.parametrize("content", [b"", b"x", bytes(GRACE)])
def test_small_and_zero_padded_content_passes_on_the_grace(content):
    assert b"".join(inflate_bytes(gzip.compress(content), 1 << 30, 100)) == content


def test_a_bomb_is_refused_by_the_ratio_after_inflating_little():
    bomb = gzip_bomb(1024)  # 1 GiB of zeros in about 1 MB
    inflated = 0
    with pytest.raises(InflateLimit, match="more than 100 times its compressed size"):
        for piece in inflate_bytes(bomb, 1 << 40, 100):
            inflated += len(piece)
    # The work done is bounded by the grace and one feed's worth of output, not by the bomb's size.
    assert inflated <= GRACE + 100 * FEED
    assert inflated < (1 << 30) // 50


def test_content_past_the_size_limit_is_refused_even_within_the_ratio():
    content = os.urandom(2 << 20)
    with pytest.raises(InflateLimit, match="inflates to more than 1048576 bytes"):
        list(inflate_bytes(gzip.compress(content), 1 << 20, 100))


def test_a_gzip_made_by_gzip_itself_over_the_ratio_is_refused():
    blob = gzip.compress(bytes(64 << 20), compresslevel=9)  # ~1000x
    with pytest.raises(InflateLimit):
        list(inflate_bytes(blob, 1 << 40, 100))
    assert b"".join(inflate_bytes(blob, 1 << 40, 1100)) == bytes(64 << 20)


def test_truncated_and_non_gzip_data_are_zlib_errors():
    with pytest.raises(zlib.error):
        list(inflate_bytes(gzip.compress(b"hello" * 100)[:-6], 1 << 20, 100))
    with pytest.raises(zlib.error):
        list(inflate_bytes(b"not gzip at all", 1 << 20, 100))


def test_the_reader_feeds_tarfile_and_stops_a_bomb_in_the_middle_of_an_entry():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = os.urandom(100_000)
        info = tarfile.TarInfo("a/b.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    with tarfile.open(fileobj=GzipReader(buffer, 1 << 30, 100), mode="r|") as archive:
        member = next(iter(archive))
        assert (member.name, archive.extractfile(member).read()) == ("a/b.txt", data)
    reader = GzipReader(io.BytesIO(gzip_bomb(512)), 1 << 40, 100)
    with pytest.raises(InflateLimit):
        while reader.read(10240):
            pass
