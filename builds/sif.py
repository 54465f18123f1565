"""Singularity images: a root filesystem as a squashfs partition in a SIF file, pushed with ORAS.

The SIF is assembled the way Apptainer lays it out (`/.singularity.d` with the environment and a
runscript, squashfs as the primary system partition) with `mksquashfs` and `siftool`; no Apptainer
binary is involved (none can be installed here to check it against).
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from oci import mediatypes
from oci.client import Manifest, RegistryClient
from oci.digest import sha256_digest
from oci.image import canonical_json

SIF_CONFIG = "application/vnd.sylabs.sif.config.v1+json"
SIF_LAYER = "application/vnd.sylabs.sif.layer.v1.sif"
SIF_ARCH = {"amd64": "2", "arm64": "4"}


def add_singularity_metadata(rootfs: Path, env: list[str]) -> None:
    meta = rootfs / ".singularity.d"
    (meta / "env").mkdir(parents=True, exist_ok=True)
    (meta / "actions").mkdir(exist_ok=True)
    (meta / "libs").mkdir(exist_ok=True)
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, _, v in (e.partition("=") for e in env))
    (meta / "env" / "90-environment.sh").write_text("#!/bin/sh\n# Environment of the image this SIF was made from\n" + exports)
    runscript = meta / "runscript"
    runscript.write_text('#!/bin/sh\nif [ $# -gt 0 ]; then exec "$@"; fi\nexec /bin/sh\n')
    runscript.chmod(0o755)
    for link, target in (("environment", ".singularity.d/env/90-environment.sh"), ("singularity", ".singularity.d/runscript")):
        path = rootfs / link
        if not path.exists() and not path.is_symlink():
            path.symlink_to(target)


def make_sif(rootfs: Path, out: Path, architecture: str) -> None:
    squashfs = out.with_suffix(".squashfs")
    subprocess.run(
        ["mksquashfs", str(rootfs), str(squashfs), "-noappend", "-all-root", "-no-progress", "-quiet",
         "-mkfs-time", "0", "-all-time", "0"],
        check=True, stdout=subprocess.DEVNULL,
    )
    subprocess.run(["siftool", "new", str(out)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["siftool", "add", str(out), str(squashfs), "--datatype", "4", "--parttype", "2", "--partfs", "1",
         "--partarch", SIF_ARCH[architecture]],
        check=True, stdout=subprocess.DEVNULL,
    )
    squashfs.unlink()


async def push_sif(client: RegistryClient, path: str, tag: str, sif: Path) -> str:
    """Push a SIF as an ORAS artifact, as `apptainer push oras://` does; returns the manifest digest."""
    data = sif.read_bytes()
    config = b"{}"
    await client.push_blob(path, data)
    await client.push_blob(path, config)
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": SIF_CONFIG, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{
            "mediaType": SIF_LAYER, "digest": sha256_digest(data), "size": len(data),
            "annotations": {"org.opencontainers.image.title": f"{path.rsplit('/', 1)[-1]}.sif"},
        }],
    })
    return await client.push_manifest(path, tag, Manifest.from_bytes(manifest, mediatypes.OCI_MANIFEST))
