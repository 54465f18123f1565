"""Package search benchmark: the new-container page's search (builds/conda/search.py) over a channel of
N package names (`--names`, each with `--versions` versions; only the index is served, as a search
reads nothing else) on loopback: a cold search (empty repodata cache), a search by a new gateway over
the on-disk cache (what a search past WAVE_PACKAGE_SEARCH_TTL does), and the answer's size. No stack
needed.

    .venv/bin/python benchmarks/package_search.py [--names 20000] [--versions 3] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builds.conda.search import search  # noqa: E402
from tests.support.conda_channel import serve  # noqa: E402


def make_index(directory: Path, names: int, versions: int) -> None:
    packages = {}
    for i in range(names):
        for v in range(versions):
            name = f"pkg{i:06d}-tool"
            packages[f"{name}-{v}.0-0.tar.bz2"] = {
                "name": name, "version": f"{v}.0", "build": "0", "build_number": 0, "depends": [], "subdir": "noarch",
                "noarch": "generic", "sha256": "0" * 64, "md5": "0" * 32, "size": 1000,
            }
    for subdir, content in (("noarch", packages), ("linux-64", {})):
        (directory / subdir).mkdir(parents=True)
        (directory / subdir / "repodata.json").write_text(json.dumps({"info": {"subdir": subdir}, "packages": content}))


def timed(channel: str, cache: Path, query: str) -> tuple[float, int]:
    start = time.perf_counter()
    packages, _ = asyncio.run(search([channel], "https://conda.anaconda.org/", "linux-64", query, 20, cache))
    return time.perf_counter() - start, len(json.dumps([p.__dict__ for p in packages]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=20000)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_index(Path(tmp) / "channel", args.names, args.versions)
        size = (Path(tmp) / "channel" / "noarch" / "repodata.json").stat().st_size
        url, server = serve(Path(tmp) / "channel")
        cold, warm = [], []
        for i in range(args.repeat):
            cache = Path(tmp) / f"cache{i}"
            cold.append(timed(url, cache, f"pkg{i:04d}")[0])  # a fresh cache folder: the index is downloaded
            seconds, answer = timed(url, cache, f"pkg{i + 1:04d}")  # a new gateway, the index on disk
            warm.append(seconds)
        server.shutdown()
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    print(f"channel: {args.names} names x {args.versions} versions, repodata.json {size / 1e6:.1f} MB")
    print(f"cold search (index downloaded): median {cold_s * 1000:.0f} ms")
    print(f"search over the on-disk index:  median {warm_s * 1000:.0f} ms  ({cold_s / warm_s:.1f}x faster)")
    print(f"answer (20 packages at most):   {answer} bytes")


if __name__ == "__main__":
    main()
