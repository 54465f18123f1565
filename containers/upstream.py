"""Talking to upstream registries on behalf of a caller: their stored credentials, our settings."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.conf import settings

from accounts.identity import Identity, credentials_for
from oci import errors
from oci.client import Manifest, RegistryClient
from oci.netguard import AddressPolicy, guarded_transport
from oci.reference import Reference
from wave_site.errors import ApiError


def address_policy() -> AddressPolicy:
    return AddressPolicy(settings.WAVE_SSRF_ALLOWLIST)


def client_for(identity: Identity, registry: str) -> RegistryClient:
    """A client with the caller's stored credentials, behind the SSRF guard.

    Made in sync code, which may read the database; used in async code.
    """
    return RegistryClient(
        registry,
        credentials_for(identity, registry),
        insecure=frozenset(settings.WAVE_INSECURE_REGISTRIES),
        timeout=settings.WAVE_UPSTREAM_TIMEOUT,
        transport=guarded_transport(address_policy()),
    )


def api_error(exc: errors.OciError, image: str) -> ApiError:
    """The three ways an upstream image can be out of reach, each with its own message."""
    if isinstance(exc, errors.NotFound):
        return ApiError(f"Container image '{image}' does not exist: {exc}", status=404)
    if isinstance(exc, errors.Unauthorized):
        return ApiError(f"Container image '{image}' is not accessible: {exc}", status=400)
    if isinstance(exc, errors.RegistryUnreachable):
        return ApiError(f"Container image '{image}' cannot be checked: {exc}", status=400)
    return ApiError(f"Container image '{image}' cannot be read: {exc}", status=400)


async def _fetch_manifest(client: RegistryClient, ref: Reference) -> Manifest:
    async with client:
        return await client.get_manifest(ref.path, ref.reference)


def fetch_manifest(identity: Identity, ref: Reference) -> Manifest:
    try:
        return async_to_sync(_fetch_manifest)(client_for(identity, ref.registry), ref)
    except errors.OciError as exc:
        raise api_error(exc, str(ref)) from None


async def _manifest_exists(client: RegistryClient, ref: Reference) -> bool:
    async with client:
        try:
            await client.get_manifest(ref.path, ref.reference)
        except errors.NotFound:
            return False
    return True


def manifest_exists(identity: Identity, ref: Reference) -> bool:
    try:
        return async_to_sync(_manifest_exists)(client_for(identity, ref.registry), ref)
    except errors.OciError as exc:
        raise ApiError(f"Build repository '{ref.repository}' cannot be checked: {exc}") from None
