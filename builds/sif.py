"""Singularity images: an OCI image layout on disk turned into a SIF file, pushed with ORAS.

Every `format: sif` build ends here, whatever made the image (the conda assembler, or the builder
backend for Dockerfiles, frozen images and translated Singularity definition files): `umoci`
unpacks the layout (whiteouts applied), `/.singularity.d` gets what Apptainer puts there for a
Docker image (its environment, a runscript running its ENTRYPOINT and CMD, its labels) unless the
image already carries them (a definition file's `%runscript` and `%environment` do), and the root
becomes the squashfs primary partition (`mksquashfs`) of a SIF (`siftool`). No Apptainer binary
is involved: none can be installed here to check against. Everything goes through files, so
memory stays flat whatever the image's size.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Callable

from oci import mediatypes
from oci.client import FileBody, Manifest, RegistryClient
from oci.digest import sha256_digest
from oci.image import canonical_json

from .process import run_streaming

SIF_CONFIG = "application/vnd.sylabs.sif.config.v1+json"
SIF_LAYER = "application/vnd.sylabs.sif.layer.v1.sif"
SIF_ARCH = {"386": "1", "amd64": "2", "arm": "3", "arm64": "4", "ppc64le": "6", "s390x": "11", "riscv64": "14"}
SIF_DEFINITION, SIF_PARTITION = "1", "4"  # siftool data types
CHUNK = 1 << 20
NO_DEADLINE = 24 * 3600.0  # seconds, for callers without one (the conda path keeps its own)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENVIRONMENT_HEADER = "#!/bin/sh\n# Custom environment shell code should follow\n\n"


class SifError(Exception):
    """The image cannot become a SIF; the message says why."""


def image_config(layout: Path) -> dict:
    """The image config of the single image of an OCI layout."""
    blobs = layout / "blobs" / "sha256"
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":", 1)[1]).read_text())
    return json.loads((blobs / manifest["config"]["digest"].split(":", 1)[1]).read_text())


def docker_runscript(entrypoint: list[str], cmd: list[str]) -> str:
    """What `singularity run` does with a Docker image: ENTRYPOINT, then the arguments or else CMD."""
    ep, default = " ".join(map(shlex.quote, entrypoint)), " ".join(map(shlex.quote, cmd))
    return (
        "#!/bin/sh\n# The ENTRYPOINT and CMD of the image: arguments replace CMD, as for a Docker image\n"
        f'if [ $# -gt 0 ]; then set -- {ep} "$@"; else set -- {ep} {default}; fi\n'
        'if [ $# -eq 0 ]; then set -- /bin/sh; fi\nexec "$@"\n'
    )


def _write_new(path: Path, text: str, mode: int = 0o644) -> None:
    """Write a metadata file the image does not already carry (never through a link it holds)."""
    if path.exists() or path.is_symlink():
        return
    path.write_text(text)
    path.chmod(mode)


def add_singularity_metadata(rootfs: Path, config: dict) -> None:
    container = config.get("config") or {}
    meta = rootfs / ".singularity.d"
    for folder in (meta, meta / "env"):  # written into: a link would lead the writes out of the image
        if folder.is_symlink():
            raise SifError(f"The image's /{folder.relative_to(rootfs)} is a symbolic link; it must be a folder")
    for folder in (meta, meta / "env", meta / "actions", meta / "libs"):
        folder.mkdir(exist_ok=True)
    env = [e.partition("=") for e in container.get("Env") or []]
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, _, v in env if _NAME.match(k))
    _write_new(meta / "env" / "10-docker2singularity.sh", "#!/bin/sh\n" + exports, 0o755)
    _write_new(meta / "env" / "90-environment.sh", ENVIRONMENT_HEADER, 0o755)
    _write_new(meta / "runscript", docker_runscript(container.get("Entrypoint") or [], container.get("Cmd") or []), 0o755)
    _write_new(meta / "labels.json", json.dumps(container.get("Labels") or {}, indent=1, sort_keys=True) + "\n")
    for link, target in (("environment", ".singularity.d/env/90-environment.sh"), ("singularity", ".singularity.d/runscript")):
        path = rootfs / link
        if not path.exists() and not path.is_symlink():
            path.symlink_to(target)


class _Step:
    """Runs the conversion's commands under the build's deadline (their whole tree killed past it)."""

    def __init__(self, deadline: float | None, tick: Callable[[], None]):
        self.deadline = deadline if deadline is not None else time.monotonic() + NO_DEADLINE
        self.tick = tick

    def __call__(self, argv: list[str]) -> None:
        tail = ""

        def keep(text: str) -> None:
            nonlocal tail
            tail = (tail + text)[-2000:]

        status = run_streaming(argv, on_output=keep, deadline=self.deadline, tick=self.tick)
        if status != 0:
            raise SifError(f"{argv[0]} failed ({status}): {tail.strip()}")


def make_sif(rootfs: Path, out: Path, architecture: str, step: _Step) -> None:
    if architecture not in SIF_ARCH:
        raise SifError(f"SIF files cannot hold {architecture} images")
    squashfs = out.with_suffix(".squashfs")
    step(["mksquashfs", str(rootfs), str(squashfs), "-noappend", "-all-root", "-no-progress", "-quiet",
          "-mkfs-time", "0", "-all-time", "0"])
    step(["siftool", "new", str(out)])
    definition = rootfs / ".singularity.d" / "Singularity"
    if definition.is_file() and not definition.is_symlink():  # Apptainer keeps the definition file beside the root
        step(["siftool", "add", str(out), str(definition), "--datatype", SIF_DEFINITION])
    step(["siftool", "add", str(out), str(squashfs), "--datatype", SIF_PARTITION, "--parttype", "2", "--partfs", "1",
          "--partarch", SIF_ARCH[architecture]])
    squashfs.unlink()


def sif_from_layout(layout: Path, tag: str, work: Path, deadline: float | None = None,
                    tick: Callable[[], None] = lambda: None) -> Path:
    """`work/image.sif` made from the image `tag` of the OCI layout; the unpacked root is removed."""
    bundle, step = work / "bundle", _Step(deadline, tick)
    step(["umoci", "unpack", "--rootless", "--image", f"{layout}:{tag}", str(bundle)])
    config = image_config(layout)
    try:
        add_singularity_metadata(bundle / "rootfs", config)
        sif = work / "image.sif"
        make_sif(bundle / "rootfs", sif, config.get("architecture", "amd64"), step)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(bundle)], check=False)
    return sif


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


async def push_sif(client: RegistryClient, path: str, tag: str, sif: Path) -> str:
    """Push a SIF as an ORAS artifact, as `apptainer push oras://` does; returns the manifest digest."""
    digest, size = _file_digest(sif), sif.stat().st_size
    config = b"{}"
    if not await client.blob_exists(path, digest):
        await client.upload_blob(path, digest, FileBody(sif))  # read again from the start on a retry
    await client.push_blob(path, config)
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": SIF_CONFIG, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{
            "mediaType": SIF_LAYER, "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.title": f"{path.rsplit('/', 1)[-1]}.sif"},
        }],
    })
    return await client.push_manifest(path, tag, Manifest.from_bytes(manifest, mediatypes.OCI_MANIFEST))
