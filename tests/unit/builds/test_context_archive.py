"""The build-context unpacker against hostile archives: every escape is refused, naming the entry."""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile

import pytest

from builds.context_archive import ContextError, Limits, check_archive, unpack

from tests.support.context_tars import entry, tar_of

LIMITS = Limits(entries=100, size=1 << 20)


def gz(tar: bytes) -> io.BytesIO:
    return io.BytesIO(gzip.compress(tar))


def refused(tar: bytes, tmp_path, limits: Limits = LIMITS) -> str:
    """Both the request-time check and the worker's unpack refuse it, with the same message."""
    with pytest.raises(ContextError) as checked:
        check_archive(gz(tar), limits)
    destination = tmp_path / "context"
    destination.mkdir()
    with pytest.raises(ContextError) as unpacked:
        unpack(gz(tar), destination, limits)
    assert str(checked.value) == str(unpacked.value)
    return str(checked.value)


def test_it_unpacks_files_folders_and_inside_links_with_setuid_bits_dropped(tmp_path):
    tar = tar_of(
        entry("bin/", tarfile.DIRTYPE, mode=0o755),
        entry("bin/tool", data=b"#!/bin/sh\necho tool\n", mode=0o4755),
        entry("data/hello.txt", data=b"hello\n", mode=0o2640),
        entry("data/again.txt", tarfile.LNKTYPE, link="data/hello.txt"),
        entry("latest", tarfile.SYMTYPE, link="bin/tool"),
        entry("data/up", tarfile.SYMTYPE, link="../bin"),
    )
    check_archive(gz(tar), LIMITS)
    unpack(gz(tar), tmp_path, LIMITS)
    assert (tmp_path / "bin" / "tool").read_bytes() == b"#!/bin/sh\necho tool\n"
    assert stat.S_IMODE((tmp_path / "bin" / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "data" / "hello.txt").stat().st_mode) == 0o640
    assert (tmp_path / "data" / "again.txt").stat().st_ino == (tmp_path / "data" / "hello.txt").stat().st_ino
    assert os.readlink(tmp_path / "latest") == "bin/tool" and (tmp_path / "data" / "up" / "tool").is_file()


@pytest.mark.parametrize(
    "members, message",
    [
        ([entry("../x", data=b"x")], "Build context entry '../x' contains '..'"),
        ([entry("a/../../x", data=b"x")], "contains '..'"),
        ([entry("/etc/passwd", data=b"root::0:0::/:/bin/sh\n")], "Build context entry '/etc/passwd' is an absolute path"),
        ([entry("a", tarfile.SYMTYPE, link="/")], "Build context symlink 'a' points to the absolute path '/'"),
        ([entry("a", tarfile.SYMTYPE, link="sub"), entry("a/etc/x", data=b"x")], "Build context entry 'a/etc/x' goes through the symlink 'a'"),
        ([entry("a", tarfile.SYMTYPE, link="..")], "Build context symlink 'a' points outside the context ('..')"),
        ([entry("d/a", tarfile.SYMTYPE, link="../../etc")], "Build context symlink 'd/a' points outside the context"),
        # Each link alone stays inside; followed through `c/b` (the context's parent), `a` leaves it.
        ([entry("c/b", tarfile.SYMTYPE, link=".."), entry("a", tarfile.SYMTYPE, link="c/b/..")], "Build context symlink 'a' points outside"),
        ([entry("x", tarfile.SYMTYPE, link="y"), entry("y", tarfile.SYMTYPE, link="x/z")], "is part of a loop"),
        ([entry("h", tarfile.LNKTYPE, link="../../etc/passwd")], "hard link 'h' target '../../etc/passwd' contains '..'"),
        ([entry("h", tarfile.LNKTYPE, link="/etc/passwd")], "hard link 'h' target '/etc/passwd' is an absolute path"),
        ([entry("h", tarfile.LNKTYPE, link="missing")], "Build context hard link 'h' must point to a regular file earlier in the archive, not 'missing'"),
        ([entry("s", tarfile.SYMTYPE, link="f"), entry("h", tarfile.LNKTYPE, link="s")], "hard link 'h' must point to a regular file"),
        ([entry("null", tarfile.CHRTYPE)], "Build context entry 'null' is a device: only files, folders and links are allowed"),
        ([entry("sda", tarfile.BLKTYPE)], "Build context entry 'sda' is a device"),
        ([entry("pipe", tarfile.FIFOTYPE)], "Build context entry 'pipe' is a FIFO"),
        ([entry("f", data=b"1"), entry("f", data=b"2")], "Build context entry 'f' appears more than once"),
        ([entry("f", data=b"1"), entry("f/g", data=b"2")], "Build context entry 'f/g' is under the file 'f'"),
        ([entry("a" * 256, data=b"1")], "is too long a name"),
        ([entry("/".join(["d" * 200] * 6), data=b"1")], "is too long a name"),
    ],
)
def test_it_refuses_hostile_entries(members, message, tmp_path):
    assert message in refused(tar_of(*members), tmp_path)
    assert not os.path.lexists(tmp_path / "etc") and not os.path.lexists("/etc/x")


def test_nothing_is_written_through_a_symlink_even_when_the_link_comes_first(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    tar = tar_of(entry("a", tarfile.SYMTYPE, link=str(outside)), entry("a/owned", data=b"x"))
    assert "absolute path" in refused(tar, tmp_path)
    assert list(outside.iterdir()) == []


def test_it_caps_the_number_of_entries(tmp_path):
    tar = tar_of(*[entry(f"f{i}", data=b"x") for i in range(6)])
    assert refused(tar, tmp_path, Limits(entries=5, size=1 << 20)) == "The build context has more than 5 entries"


def test_it_caps_the_unpacked_size_before_reading_a_gzip_bomb(tmp_path):
    bomb = gzip.compress(tar_of(entry("zeros", data=bytes(64 << 20))))
    assert len(bomb) < 100_000
    with pytest.raises(ContextError, match=r"unpacks to more than 1048576 bytes \(at entry 'zeros'\)"):
        unpack(io.BytesIO(bomb), tmp_path, LIMITS)
    assert not (tmp_path / "zeros").exists()


def test_a_huge_sparse_entry_counts_at_its_full_size(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    subprocess.run(["truncate", "-s", "5G", str(source / "big")], check=True)
    archive = tmp_path / "sparse.tar.gz"
    subprocess.run(["tar", "-S", "-czf", str(archive), "-C", str(source), "big"], check=True)
    assert archive.stat().st_size < 10_000
    destination = tmp_path / "context"
    destination.mkdir()
    with pytest.raises(ContextError, match="unpacks to more than 1048576 bytes .at entry 'big'"):
        unpack(io.BytesIO(archive.read_bytes()), destination, LIMITS)
    assert list(destination.iterdir()) == []


def test_it_refuses_what_is_not_a_tar_gz(tmp_path):
    with pytest.raises(ContextError, match="not a valid tar.gz archive"):
        check_archive(io.BytesIO(b"not gzip at all"), LIMITS)
    truncated = gzip.compress(tar_of(entry("f", data=b"x" * 10_000)))[:-200]
    with pytest.raises(ContextError):
        check_archive(io.BytesIO(truncated), LIMITS)
