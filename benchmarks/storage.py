"""Object store benchmark: put_file, a streamed read and put_bytes/read_bytes of small blobs, on the
stack's SeaweedFS (S3) and on the filesystem store, in the same process.

    scripts/stack test benchmarks/storage.py -s -q

Prints MiB/s for 256 MiB up and down, small blobs a second (4 KiB each), and S3's share of the
filesystem's for each.
"""

from __future__ import annotations

import os
import time
import uuid

from wave_site.storage import parse, store

BIG, SMALL, COUNT = 256 << 20, 4096, 200


def measure(s, source) -> dict[str, float]:
    prefix = f"bench/{uuid.uuid4().hex}"
    started = time.perf_counter()
    s.put_file(f"{prefix}/big", source)
    up = BIG / (1 << 20) / (time.perf_counter() - started)
    started = time.perf_counter()
    with s.open(f"{prefix}/big") as stream:
        while stream.read(1 << 20):
            pass
    down = BIG / (1 << 20) / (time.perf_counter() - started)
    data = os.urandom(SMALL)
    started = time.perf_counter()
    for i in range(COUNT):
        s.put_bytes(f"{prefix}/small{i}", data)
        s.read_bytes(f"{prefix}/small{i}")
    small = COUNT / (time.perf_counter() - started)
    for key in [f"{prefix}/big", *(f"{prefix}/small{i}" for i in range(COUNT))]:
        s.delete(key)
    return {"up MiB/s": up, "down MiB/s": down, "small put+get/s": small}


def test_storage_throughput(tmp_path):
    source = tmp_path / "big"
    with open(source, "wb") as out:
        for _ in range(BIG >> 20):
            out.write(os.urandom(1 << 20))
    s3 = measure(store(), source)
    files = measure(parse(f"file://{tmp_path / 'store'}"), source)
    for name in s3:
        print(f"{name}: s3 {s3[name]:.0f}, file {files[name]:.0f}, s3/file {s3[name] / files[name]:.2f}")
