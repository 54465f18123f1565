"""`format: sif` for recipes the builder backend runs (Dockerfiles, frozen images, translated
Singularity definition files): the image is built as usual but written as an OCI layout in the
build's work folder instead of pushed, then made a SIF (builds/sif.py) and pushed with ORAS."""

from __future__ import annotations

import dataclasses
from typing import Callable

from asgiref.sync import async_to_sync

from accounts.identity import Identity
from registries.upstream import client_for
from oci.reference import parse_reference
from wave_site.errors import InvalidRequest

from .archive import store_sif
from .builders import BuildSpec, get_builder
from .models import Build
from .request_spec import ContainerRequestSpec
from .sif import push_sif, sif_from_layout
from .singularity_def import META, DefinitionError, is_definition, translate


def container_file_recipe(spec: ContainerRequestSpec) -> tuple[str, dict]:
    """The Dockerfile the builder runs for a validated request's `containerFile`, and the files a
    translated Singularity definition file adds to the build context."""
    text = spec.container_file
    if not is_definition(text):
        return text, {}
    if spec.format != "sif":
        raise InvalidRequest("Attribute 'containerFile' is a Singularity definition file: set 'format' to 'sif' to build it")
    try:
        translation = translate(text)
    except DefinitionError as exc:
        raise InvalidRequest(str(exc)) from None
    if translation.copies and not spec.build_context:
        raise InvalidRequest(
            f"%files source '{translation.copies[0]}' must come from the build context, and the request has none: "
            "send the files as 'buildContext' (wave-cli --context)"
        )
    config = spec.container_config or {}
    if f"{META}/runscript" in translation.files and spec.freeze and (config.get("entrypoint") or config.get("cmd")):
        raise InvalidRequest("Attribute 'containerConfig' sets an entrypoint or cmd, and the definition file has a %runscript: use one of them")
    return translation.dockerfile, {"files": translation.files}


async def _push(client, path: str, tag: str, sif) -> str:
    async with client:
        return await push_sif(client, path, tag, sif)


def build_sif(build: Build, spec: BuildSpec, output: Callable[[str], None], deadline: float, tick: Callable[[], None]) -> str:
    """Build `spec`, convert it and push the SIF to the build's target; returns the ORAS manifest digest."""
    work = spec.context.parent
    layout = work / "oci"
    get_builder().build(dataclasses.replace(spec, oci_layout=layout), output, deadline, tick)
    tick()
    output("Converting the image to a SIF (umoci, mksquashfs, siftool)\n")
    sif = sif_from_layout(layout, "image", work, deadline, tick)
    tick()
    store_sif(build.id, sif)
    target = parse_reference(build.target_image)
    output(f"Pushing a SIF of {sif.stat().st_size} bytes to oras://{build.target_image}\n")
    client = client_for(Identity(build.user, build.workspace), target.registry)
    return async_to_sync(_push)(client, target.path, target.reference, sif)
