"""`POST /v1alpha1/inspect`: an image's manifest and config as the reference returns them."""

from __future__ import annotations

from asgiref.sync import async_to_sync

from accounts.identity import Identity
from oci import errors, mediatypes
from oci.client import RegistryClient
from oci.documents import parse_config
from oci.mutate import select_platform
from oci.platform import Platform
from oci.reference import Reference, parse_reference
from wave_site.errors import InvalidRequest, NotFound

from registries.upstream import api_error, client_for

_CONFIG_KEYS = {
    "Env": "env", "Cmd": "cmd", "Entrypoint": "entrypoint", "WorkingDir": "workingDir", "User": "user",
    "Image": "image", "Labels": "labels", "ExposedPorts": "exposedPorts", "Volumes": "volumes",
    "AttachStdin": "attachStdin", "AttachStdout": "attachStdout", "AttachStderr": "attachStderr", "Tty": "tty",
    "StopSignal": "stopSignal", "Hostname": "hostname", "Domainname": "domainname",
}


def _container_config(config: dict) -> dict:
    inner = config.get("config") or {}
    return {
        **{k: v for k, v in config.items() if k not in ("config", "container_config", "history")},
        "config": {_CONFIG_KEYS.get(k, k[:1].lower() + k[1:]): v for k, v in inner.items() if v is not None},
    }


async def _inspect(client: RegistryClient, ref: Reference, platform: Platform | None) -> dict:
    async with client:
        manifest = await client.get_manifest(ref.path, ref.reference)
        if manifest.media_type in mediatypes.SCHEMA1_TYPES:
            raise InvalidRequest(f"Container image '{ref}' uses the Docker schema 1 manifest format, which is not supported")
        if manifest.is_index:
            if platform is None:
                return {"index": manifest.json}
            entry = select_platform(manifest, platform)
            if entry is None:
                raise NotFound(f"Container image '{ref}' has no manifest for platform {platform}")
            manifest = await client.get_manifest(ref.path, entry["digest"])
        doc = manifest.json
        config = parse_config(await client.get_blob(ref.path, doc["config"]["digest"]))
        return {
            "container": {
                "registry": ref.registry,
                "hostName": client.base_url,
                "imageName": ref.path,
                "reference": ref.reference,
                "digest": manifest.digest,
                "config": _container_config(config),
                "manifest": doc,
                "v1": False,
                "v2": manifest.media_type == mediatypes.DOCKER_MANIFEST,
                "oci": manifest.media_type == mediatypes.OCI_MANIFEST,
            }
        }


def inspect_image(identity: Identity, image: str, platform: Platform | None) -> dict:
    ref = parse_reference(image)
    try:
        return async_to_sync(_inspect)(client_for(identity, ref.registry), ref, platform)
    except errors.OciError as exc:
        raise api_error(exc, str(ref)) from None
