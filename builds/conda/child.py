"""The untrusted half of a conda build, run by `builds.unprivileged` as the build user: solve (or read
the lock), download and check every package, install, pack the layers.

`main([job.json])` reads the job the worker wrote, prints progress for the build log, and writes
`out/result.json` (the lock, then the layers or the reason the build fails) and `out/layer-<n>.tar.gz` (n counting from 0).
No Django here: the child never sees the worker's settings, which hold secrets.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import zlib
from pathlib import Path

import rattler

from .layers import package_layers
from .lock import conda_lock_yaml, explicit_lock
from .paths import UnsafePackage, check_archive
from .plan import PREFIX, CondaPlan
from .solve import SolveError, download_client, fetch_package, install, record_checksum, solve

_ARCHIVE_NAME = re.compile(r"[A-Za-z0-9_.+-]+\.(conda|tar\.bz2)")


def say(line: str) -> None:
    print(line, flush=True)


def _archive_path(directory: Path, url: str) -> Path:
    name = url.split("#")[0].rsplit("/", 1)[-1]
    if not _ARCHIVE_NAME.fullmatch(name):
        raise SolveError(f"The package URL {url} does not end in a package file name (<name>.conda or .tar.bz2)")
    return directory / name


async def _records(plan: CondaPlan, job: dict, client, downloads: Path) -> tuple[list, list[Path], str]:
    """The records to install, their downloaded archives, and the `@EXPLICIT` lock."""
    if plan.locked:
        say(f"Installing the {len(plan.specs)} packages of the given lock, as they are")
        archives = []
        for entry in plan.specs:
            url, _, checksum = entry.partition("#")
            archives.append(_archive_path(downloads, url))
            await fetch_package(client, url, checksum, archives[-1])
        records = [await rattler.RepoDataRecord.from_package_archive(path) for path in archives]
        for record, entry in zip(records, plan.specs):
            record.url = entry.partition("#")[0]  # where it came from, not the download folder
        return records, archives, "@EXPLICIT\n" + "".join(f"{entry}\n" for entry in plan.specs)
    say(f"Solving {' '.join(plan.specs)} for {plan.subdir} from {', '.join(plan.channels)}")
    records = await solve(plan, job["channel_alias"])
    archives = []
    for record in records:
        archives.append(_archive_path(downloads, record.url))
        await fetch_package(client, record.url, record_checksum(record), archives[-1])
    return records, archives, explicit_lock(records, plan.subdir)


async def _checked(archive: Path, markers: Path) -> None:
    """`check_archive`, once per archive content: a package that passed is marked by its sha256
    beside the package cache, so that warm builds do not read every archive again."""
    with archive.open("rb") as file:  # packages can be hundreds of MB: hashed as a stream
        marker = markers / hashlib.file_digest(file, "sha256").hexdigest()
    if marker.exists():
        return
    await check_archive(archive)
    markers.mkdir(exist_ok=True)
    marker.touch()


async def assemble(job: dict, result: dict) -> None:
    plan = CondaPlan.from_context(job["context"], job["platform"])
    work = Path(job["work"])
    downloads, out = work / "downloads", work / "out"
    downloads.mkdir()
    async with download_client() as client:
        records, archives, result["lock"] = await _records(plan, job, client, downloads)
    result["lock_yaml"] = conda_lock_yaml(records, plan.subdir, list(plan.channels))
    for record in sorted(records, key=lambda r: r.name.normalized):
        say(f"  {record.name.normalized} {record.version} {record.build} ({record.subdir})")
    await asyncio.gather(*(_checked(archive, Path(job["cache"]) / "checked") for archive in archives))
    urls = {record.file_name: record.url for record in records}
    for record, archive in zip(records, archives):
        record.url = archive.as_uri()  # install the very file that was checked
    prefix = await install(records, work / "staging", plan.subdir, Path(job["cache"]))
    say(f"Installed {len(records)} packages into {PREFIX}")
    say(f"Packing layers with zlib {zlib.ZLIB_RUNTIME_VERSION} (layer digests are equal across workers with the same zlib)")
    packages, metadata = package_layers(prefix, out, urls)
    layers = [("+".join(p.names), p.layer) for p in packages] + [("conda-meta", metadata)]
    result["layers"] = [{"name": name, "tar_digest": layer.tar_digest, "gzip_digest": layer.gzip_digest} for name, layer in layers]


def main(args: list[str]) -> int:
    job = json.loads(Path(args[0]).read_text())
    out = Path(job["work"]) / "out"
    out.mkdir()
    result: dict = {}
    try:
        asyncio.run(assemble(job, result))
    except (SolveError, UnsafePackage) as exc:
        result["error"] = str(exc)
    (out / "result.json").write_text(json.dumps(result))
    return 0
