import gzip
import io
import tarfile

from oci.digest import sha256_digest
from oci.layer import LayerBuilder


def _layer():
    return (
        LayerBuilder()
        .add_file("usr/bin/tool", b"#!/bin/sh\necho tool\n", 0o755)
        .add_symlink("bin/t", "/usr/bin/tool")
        .add_file("etc/conf", b"x=1\n")
        .build()
    )


def test_the_same_files_give_the_same_digests():
    first, second = _layer(), _layer()
    assert first.gzip == second.gzip
    assert (first.tar_digest, first.gzip_digest) == (second.tar_digest, second.gzip_digest)


def test_digests_are_of_the_tar_and_of_the_gzip():
    layer = _layer()
    assert layer.gzip_digest == sha256_digest(layer.gzip)
    assert layer.tar_digest == sha256_digest(gzip.decompress(layer.gzip))


def test_entries_are_sorted_owned_by_root_with_fixed_times_and_parents_present():
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(_layer().gzip))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {"usr", "usr/bin", "bin", "etc"} <= set(names)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)
    tool = next(m for m in members if m.name == "usr/bin/tool")
    assert tool.mode == 0o755
