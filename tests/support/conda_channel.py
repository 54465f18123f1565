"""A small conda channel of real packages, made by the tests, indexed with py-rattler, served on loopback.

Packages (all `.tar.bz2` with `info/index.json`, `info/paths.json`, `info/files`, `info/has_prefix`):
- `wavetest-lib 1.0` (noarch): `share/wavetest/prefix.txt` holding the prefix placeholder;
- `wavetest-hello 1.0` (noarch, depends on wavetest-lib): `bin/wavetest-hello`, a script that reads it;
- `wavetest-extra 2.0` (noarch): `share/wavetest-extra/readme.txt`;
- `wavetest-arch 1.0` (linux-64 and linux-aarch64): `share/wavetest/arch` naming its subdir.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
from functools import partial
from pathlib import Path

from rattler.index import index_fs

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"


def package(directory: Path, name: str, version: str, subdir: str, files: dict[str, tuple[bytes, int]],
             depends: list[str] = (), placeholders: tuple[str, ...] = (), symlinks: dict[str, str] | None = None,
             listed: tuple[str, ...] = ()) -> Path:
    """A package of `files`, plus `symlinks` (path -> target) and `listed` paths that only paths.json names."""
    build, symlinks = "0", symlinks or {}
    index = {
        "name": name, "version": version, "build": build, "build_number": 0, "depends": list(depends),
        "subdir": subdir, "license": "MIT", "timestamp": 1700000000000,
        **({"noarch": "generic"} if subdir == "noarch" else {"platform": "linux", "arch": "x86_64" if subdir == "linux-64" else "aarch64"}),
    }
    paths = []
    for path, (data, mode) in sorted(files.items()):
        entry = {"_path": path, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(), "size_in_bytes": len(data)}
        if path in placeholders:
            entry.update(file_mode="text", prefix_placeholder=PLACEHOLDER)
        paths.append(entry)
    paths += [{"_path": path, "path_type": "softlink", "size_in_bytes": 0} for path in sorted(symlinks)]
    paths += [{"_path": path, "path_type": "hardlink", "sha256": hashlib.sha256(b"x").hexdigest(), "size_in_bytes": 1} for path in listed]
    info = {
        "info/index.json": json.dumps(index, indent=2).encode(),
        "info/paths.json": json.dumps({"paths": paths, "paths_version": 1}, indent=2).encode(),
        "info/files": "".join(f"{p}\n" for p in sorted(files) + sorted(symlinks)).encode(),
        "info/has_prefix": "".join(f"{PLACEHOLDER} text {p}\n" for p in placeholders).encode(),
    }
    out = directory / subdir
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / f"{name}-{version}-{build}.tar.bz2", "w:bz2") as tar:
        for path, data in {**info, **{p: d for p, (d, _) in files.items()}}.items():
            member = tarfile.TarInfo(path)
            member.size, member.mtime = len(data), 1700000000
            member.mode = files.get(path, (b"", 0o644))[1]
            tar.addfile(member, io.BytesIO(data))
        for path, target in sorted(symlinks.items()):
            member = tarfile.TarInfo(path)
            member.type, member.linkname, member.mtime = tarfile.SYMTYPE, target, 1700000000
            tar.addfile(member)
    return out / f"{name}-{version}-{build}.tar.bz2"


def build_channel(directory: Path) -> Path:
    hello = f'#!/bin/sh\necho "hello from wavetest, installed in $(cat {PLACEHOLDER}/share/wavetest/prefix.txt)"\n'
    package(directory, "wavetest-lib", "1.0", "noarch",
             {"share/wavetest/prefix.txt": (f"{PLACEHOLDER}\n".encode(), 0o644)}, placeholders=("share/wavetest/prefix.txt",))
    package(directory, "wavetest-hello", "1.0", "noarch", {"bin/wavetest-hello": (hello.encode(), 0o755)},
             depends=["wavetest-lib >=1.0"], placeholders=("bin/wavetest-hello",))
    package(directory, "wavetest-extra", "2.0", "noarch", {"share/wavetest-extra/readme.txt": (b"extra package\n", 0o644)})
    for subdir in ("linux-64", "linux-aarch64"):
        package(directory, "wavetest-arch", "1.0", subdir, {"share/wavetest/arch": (f"{subdir}\n".encode(), 0o644)})
    asyncio.run(index_fs(directory, write_zst=False, write_shards=False))
    return directory


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path, port: int = 0) -> tuple[str, http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), partial(QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def big_installed_prefix(work: Path, mib: int) -> Path:
    """A prefix installed by rattler from a one-file package whose file is then replaced by `mib` MiB of
    random (incompressible) data: a package far larger than memory budgets, made in seconds."""
    import rattler

    from builds.conda.solve import install

    archive = package(work / "channel", "wavetest-big", "1.0", "noarch", {"share/big.bin": (b"placeholder\n", 0o644)})

    async def go():
        record = await rattler.RepoDataRecord.from_package_archive(archive)
        record.url = archive.as_uri()
        return await install([record], work / "staging", "noarch", work / "cache")

    prefix = asyncio.run(go())
    big = prefix / "share" / "big.bin"
    big.unlink()  # a hard link into the package cache: replaced, not written through
    with big.open("wb") as out:
        for _ in range(mib // 16):
            out.write(os.urandom(16 << 20))
    return prefix
