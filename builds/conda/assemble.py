"""A conda build from plan to pushed image, with no container runtime involved.

The unprivileged child (builds/conda/child.py) solves with py-rattler for the image's platform,
checks every package's paths, installs into a staging prefix with `/opt/conda` written into the
files and packs a layer per package; the worker stores the lock and pushes the base image's layers
(mounted or copied, never rebuilt), the package layers (skipped when the registry has them), a config
and a manifest, through the project's own OCI client.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from asgiref.sync import async_to_sync
from django.conf import settings

from accounts.identity import Identity
from registries.upstream import client_for
from oci import mediatypes
from oci.client import FileBody, Manifest, RegistryClient
from oci.copy import copy_blob
from oci.digest import sha256_digest
from oci.documents import parse_config
from oci.image import canonical_json
from oci.layer import LayerFile
from oci.layout import save_blob, write_layout
from oci.mutate import select_platform
from oci.platform import parse_platform
from oci.reference import parse_reference

from ..archive import store_sif
from ..builders import get_builder
from ..context import build_spec
from ..models import Build
from ..sif import push_sif, sif_from_layout
from .plan import PREFIX, CondaPlan
from .runner import assemble

CREATED = "1970-01-01T00:00:00Z"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


async def _base_image(client: RegistryClient, path: str, reference: str, platform: str) -> tuple[Manifest, dict]:
    manifest = await client.get_manifest(path, reference)
    if manifest.is_index:
        entry = select_platform(manifest, parse_platform(platform))
        if entry is None:
            raise ValueError(f"The base image {path}:{reference} has no {platform} image")
        manifest = await client.get_manifest(path, entry["digest"])
    config = parse_config(await client.get_blob(path, manifest.json["config"]["digest"]))
    wanted = parse_platform(platform).architecture
    if config.get("architecture", "amd64") != wanted:
        raise ValueError(f"The base image {path}:{reference} is for {config.get('architecture')}, not {wanted}")
    return manifest, config


def _config(base: dict, plan: CondaPlan, layers: list[tuple[str, LayerFile]]) -> bytes:
    """The base image's config with the environment's PATH and variables and the new layers."""
    container = dict(base.get("config") or {})
    base_env = container.get("Env") or []
    base_path = next((e[5:] for e in base_env if e.startswith("PATH=")), DEFAULT_PATH)
    kept = [e for e in base_env if not e.startswith(("PATH=", "MAMBA_ROOT_PREFIX=", "CONDA_PREFIX="))]
    container["Env"] = [f"PATH={PREFIX}/bin:{base_path}", f"MAMBA_ROOT_PREFIX={PREFIX}", f"CONDA_PREFIX={PREFIX}", *kept]
    doc = {
        **{k: v for k, v in base.items() if k != "variant"},
        "architecture": parse_platform(plan.platform).architecture,
        "os": "linux",
        "created": CREATED,
        "config": container,
        "rootfs": {"type": "layers", "diff_ids": list(base["rootfs"]["diff_ids"]) + [layer.tar_digest for _, layer in layers]},
        "history": list(base.get("history") or []) + [{"created": CREATED, "created_by": f"wave conda: {name}"} for name, _ in layers],
    }
    return canonical_json(doc)


def _oci_layer_type(media_type: str) -> str:
    # A Docker base layer keeps its bytes; in an OCI manifest it is named with the OCI type.
    return mediatypes.OCI_LAYER_GZIP if media_type == mediatypes.DOCKER_LAYER_GZIP else media_type


async def _copy_base_layers(base_client: RegistryClient, base_path: str, client: RegistryClient, path: str, descriptors: list[dict]) -> None:
    """Base layers go to the target repository as they are: already there, mounted, or copied."""
    for descriptor in descriptors:
        digest = descriptor["digest"]
        if await client.blob_exists(path, digest):
            continue
        if base_client.registry == client.registry and await client.mount_blob(path, digest, base_path):
            continue
        await copy_blob(base_client, base_path, client, path, digest)


async def _publish(build: Build, plan: CondaPlan, base_client: RegistryClient, client: RegistryClient,
                   layers: list[tuple[str, LayerFile]]) -> tuple[str, str]:
    """Assemble the image on the base image and push it: as an image, or as a SIF for `format: sif`.

    Returns the pushed digest and a line for the log (written by the caller: logging touches the
    database, which async code must not).
    """
    base_ref, target = parse_reference(plan.base_image), parse_reference(build.target_image)
    async with base_client, client:
        base_manifest, base_config = await _base_image(base_client, base_ref.path, base_ref.reference, plan.platform)
        base_layers = base_manifest.json.get("layers") or []
        config = _config(base_config, plan, layers)
        descriptors = [{"mediaType": _oci_layer_type(d["mediaType"]), "digest": d["digest"], "size": d["size"]} for d in base_layers]
        descriptors += [{"mediaType": mediatypes.OCI_LAYER_GZIP, "digest": layer.gzip_digest, "size": layer.size} for _, layer in layers]
        manifest = Manifest.from_bytes(canonical_json({
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
            "layers": descriptors,
        }), mediatypes.OCI_MANIFEST)
        if build.format == Build.Format.SIF:
            return await _publish_sif(build.id, base_client, base_ref.path, base_layers, client, target, manifest, config, layers)
        await _copy_base_layers(base_client, base_ref.path, client, target.path, base_layers)
        uploaded = 0
        for _, layer in layers:
            if not await client.blob_exists(target.path, layer.gzip_digest):
                await client.upload_blob(target.path, layer.gzip_digest, FileBody(layer.path))
                uploaded += layer.size
        await client.push_blob(target.path, config)
        digest = await client.push_manifest(target.path, target.reference, manifest)
        return digest, f"Uploaded {uploaded} bytes of new layers; {len(layers)} conda layers on {len(base_layers)} base layers\n"


async def _publish_sif(build_id: str, base_client: RegistryClient, base_path: str, base_layers: list[dict], client: RegistryClient, target,
                       manifest: Manifest, config: bytes, layers: list[tuple[str, LayerFile]]) -> tuple[str, str]:
    """The assembled image as a layout on disk (base layers streamed into it), then a SIF, pushed."""
    work = Path(tempfile.mkdtemp(dir=Path(settings.WAVE_DATA_DIR) / "builds"))
    try:
        blobs: dict[str, bytes | Path] = {layer.gzip_digest: layer.path for _, layer in layers}
        blobs[sha256_digest(config)] = config
        write_layout(work / "layout", "image", manifest, blobs)
        for descriptor in base_layers:
            await save_blob(base_client, base_path, descriptor["digest"], work / "layout")
        sif = await asyncio.to_thread(sif_from_layout, work / "layout", "image", work)
        size = sif.stat().st_size
        await asyncio.to_thread(store_sif, build_id, sif)
        return await push_sif(client, target.path, target.reference, sif), f"Pushed a SIF of {size} bytes\n"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_commands(build: Build, plan: CondaPlan, digest: str, output, deadline: float, tick) -> str:
    """`condaOpts.commands` as one more build step on top of the assembled image, by the builder backend."""
    repository = build.target_image.rsplit(":", 1)[0]
    with tempfile.TemporaryDirectory(dir=Path(settings.WAVE_DATA_DIR) / "builds") as work:
        context = Path(work) / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM {repository}@{digest}\n" + "\n".join(plan.commands) + "\n")
        output(f"Running condaOpts.commands on top of {repository}@{digest}\n")
        return get_builder().build(build_spec(build, context), output, deadline, tick)


def run_conda_build(build: Build, output: Callable[[str], None], deadline: float, tick: Callable[[], None]) -> str:
    plan = CondaPlan.from_context(build.context, build.platform)

    def store_lock(explicit: str, conda_lock: str) -> None:
        Build.objects.filter(pk=build.pk).update(condalock=explicit, condalock_yaml=conda_lock)

    with tempfile.TemporaryDirectory(dir=Path(settings.WAVE_DATA_DIR) / "builds") as kept:
        layers = assemble(plan, output, deadline, tick, store_lock, Path(kept))
        tick()
        identity = Identity(build.user, build.workspace)
        base_client = client_for(identity, parse_reference(plan.base_image).registry)
        client = client_for(identity, parse_reference(build.target_image).registry)
        digest, summary = async_to_sync(_publish)(build, plan, base_client, client, layers)
    output(summary)
    return _run_commands(build, plan, digest, output, deadline, tick) if plan.commands else digest
