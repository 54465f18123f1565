"""Build-context benchmark: checking and unpacking a wave-cli-sized context, and refusing a gzip bomb.

Needs nothing but the checkout (`builds/context_archive.py` has no Django). The context is what
wave-cli's `--context` allows at most (5 MiB compressed): 1,000 files of text, about 21 MiB
unpacked. Prints the median time of each step and the process's peak RSS growth, so that "streamed,
never held inflated" is measured, not assumed.

    .venv/bin/python benchmarks/context.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import resource
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builds.context_archive import ContextError, Limits, check_archive, unpack  # noqa: E402

LIMITS = Limits(entries=10_000, size=100 * 1024 * 1024)
WORDS = [f"word{i}" for i in range(5000)]
FILES = 1000  # about 5 MiB gzip: the most wave-cli sends


def context_tar() -> bytes:
    rng = random.Random(7)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for i in range(FILES):
            data = " ".join(rng.choice(WORDS) for _ in range(2500)).encode()
            info = tarfile.TarInfo(f"src/module{i // 100}/file{i}.txt")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def bomb() -> bytes:
    """One 1 GiB entry of zeros, compressed as it is written (never held inflated here either)."""
    out = io.BytesIO()
    info = tarfile.TarInfo("zeros")
    info.size = 1 << 30
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as stream:
        stream.write(info.tobuf())
        zeros = bytes(1 << 20)
        for _ in range(1 << 10):
            stream.write(zeros)
        stream.write(bytes(1024))  # the end-of-archive blocks
    return out.getvalue()


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def timed(step, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    tar = context_tar()
    compressed = gzip.compress(tar, mtime=0)
    the_bomb = bomb()
    print(f"context: {len(tar) / 2**20:.1f} MiB unpacked, {len(compressed) / 2**20:.2f} MiB gzip, {FILES} files")
    before = peak_kib()

    def unpack_once() -> None:
        with tempfile.TemporaryDirectory() as folder:
            unpack(io.BytesIO(compressed), Path(folder), LIMITS)

    def refuse_bomb() -> None:
        try:
            check_archive(io.BytesIO(the_bomb), LIMITS)
        except ContextError:
            return
        raise AssertionError("the bomb was accepted")

    print(f"check (request time), median of {rounds}: {timed(lambda: check_archive(io.BytesIO(compressed), LIMITS), rounds) * 1000:.0f} ms")
    print(f"unpack (worker), median of {rounds}: {timed(unpack_once, rounds) * 1000:.0f} ms")
    middle = peak_kib()
    print(f"  peak RSS growth: {(middle - before) / 1024:.1f} MiB (the context is {len(tar) / 2**20:.1f} MiB inflated)")
    print(f"gzip bomb ({len(the_bomb) / 2**20:.2f} MiB -> 1 GiB) refused, median of {rounds}: {timed(refuse_bomb, rounds) * 1000:.1f} ms")
    print(f"  peak RSS growth: {(peak_kib() - middle) / 1024:.1f} MiB (tarfile inflates one 10 KiB read at a time)")


if __name__ == "__main__":
    main()
