"""Peak memory and time of packing one big conda package into its layer, for this checkout and a
baseline checkout (e.g. main before layers were streams), on the same installed prefix in one run.

No stack needed. Installs a one-file package with py-rattler, replaces the file with `--mib` MiB of
random data, then packs the prefix with each checkout's `builds.conda.layers.package_layers` in a
subprocess and prints the subprocess's peak RSS growth (VmHWM after less before) and the seconds taken.

    .venv/bin/python benchmarks/layer_memory.py [--baseline /path/to/other/checkout] [--mib 1024]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.conda_channel import big_installed_prefix  # noqa: E402

MIB = 1 << 20
PACK = """
import inspect, json, sys, time
from pathlib import Path
from builds.conda.layers import package_layers

def peak():
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))

before, started = peak(), time.monotonic()
streamed = "out" in inspect.signature(package_layers).parameters
packages, _ = package_layers(Path(sys.argv[1]), Path(sys.argv[2])) if streamed else package_layers(Path(sys.argv[1]))
print(json.dumps({"growth": peak() - before, "seconds": time.monotonic() - started, "digest": packages[0].layer.gzip_digest}))
"""


def pack(checkout: Path, prefix: Path, work: Path) -> dict:
    out = Path(tempfile.mkdtemp(dir=work))
    try:
        done = subprocess.run([sys.executable, "-B", "-c", PACK, str(prefix), str(out)], cwd=checkout,
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)
    finally:
        shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    try:
        prefix = big_installed_prefix(work, args.mib)
        runs = [("this checkout", ROOT)] + ([("baseline", args.baseline)] if args.baseline else [])
        for name, checkout in runs:
            result = pack(checkout, prefix, work)
            print(f"{name}: peak RSS growth {result['growth'] / MIB:.0f} MiB, {result['seconds']:.1f} s, "
                  f"{args.mib / result['seconds']:.0f} MiB/s, {result['digest']}")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
