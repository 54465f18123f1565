"""Golden digests: a fixed set of files packs into a layer of fixed digests, today and after any change
to the packing (the reproducible-build promise: the same packages give the same layers).

The digests were written down once, from `LayerBuilder.write`, and checked by `sha256sum` of the file
and of `gunzip -c`; they are those of the in-memory packing before layers were streamed too. They hold
for zlib 1.2.x/1.3.x (the gzip bytes are zlib's: zlib-ng compresses the same input to other bytes,
see README "Layers are streams"); the tar digest (the diff_id) holds everywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib

import pytest

from oci.layer import LayerBuilder

TAR_DIGEST = "sha256:ab1c8d7b91ff25cae35c9cec4f8f82b5d89944b910dce162e3af2558ecded75d"
GZIP_DIGEST = "sha256:7a33858211bd4bcb560ef0c4364f4a5c3d6abf02eed07323dd87a8b8d5a65a00"
GZIP_SIZE = 344
ZLIB_NG = "zlib-ng" in zlib.ZLIB_RUNTIME_VERSION or zlib.ZLIB_RUNTIME_VERSION.startswith("2.")


def _builder(tmp_path, from_files: bool) -> LayerBuilder:
    data = b"golden layer\n" * 1000
    if from_files:
        (tmp_path / "data.txt").write_bytes(data)
        data = tmp_path / "data.txt"
    return (LayerBuilder()
            .add_file("opt/conda/bin/tool", b"#!/bin/sh\necho golden\n", 0o755)
            .add_file("opt/conda/share/data.txt", data)
            .add_dir("opt/conda/empty", 0o700)
            .add_symlink("opt/conda/lib/link", "../share/data.txt"))


@pytest.mark.parametrize("from_files", [False, True], ids=["bytes", "files"])
def test_a_fixed_input_packs_into_the_golden_layer_on_disk(tmp_path, from_files):
    layer = _builder(tmp_path, from_files).write(tmp_path / "layer.tar.gz")
    blob = layer.path.read_bytes()
    assert layer.tar_digest == TAR_DIGEST
    assert "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest() == TAR_DIGEST
    if ZLIB_NG:
        pytest.skip(f"zlib {zlib.ZLIB_RUNTIME_VERSION} compresses to other gzip bytes")
    assert (layer.gzip_digest, layer.size) == (GZIP_DIGEST, GZIP_SIZE)
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == GZIP_DIGEST


def test_the_in_memory_layer_is_the_same_layer(tmp_path):
    layer = _builder(tmp_path, from_files=False).build()
    assert layer.tar_digest == TAR_DIGEST
    if ZLIB_NG:
        pytest.skip(f"zlib {zlib.ZLIB_RUNTIME_VERSION} compresses to other gzip bytes")
    assert (layer.gzip_digest, layer.size) == (GZIP_DIGEST, GZIP_SIZE)
