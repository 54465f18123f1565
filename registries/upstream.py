"""Talking to upstream registries on behalf of a caller: their stored credentials, our settings."""

from __future__ import annotations

import socket
from contextlib import AbstractAsyncContextManager

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings

from accounts.identity import Identity, credentials_for
from oci import download as streamed
from oci import errors
from oci.client import Manifest, RegistryClient
from oci.netguard import guarded_transport, resolve_addresses
from oci.reference import Reference
from registries.clients import address_policy, borrowed, new_client
from wave_site.errors import DomainError, InvalidRequest, NotFound


def client_for(identity: Identity, registry: str) -> RegistryClient:
    """A client of its own with the caller's stored credentials, behind the SSRF guard, for a job
    that closes it (a build, a mirror). Made in sync code, which may read the database; used in async code."""
    return new_client(registry, credentials_for(identity, registry))


def _borrowed(identity: Identity, registry: str) -> AbstractAsyncContextManager[RegistryClient]:
    """The pooled client on the server's loop (registries.clients), with the caller's credentials as stored now."""
    owner = (identity.user.pk if identity.user else None, identity.workspace.pk if identity.workspace else None)
    return borrowed(registry, owner, credentials_for(identity, registry))


def api_error(exc: errors.OciError, image: str) -> DomainError:
    """The three ways an upstream image can be out of reach, each with its own message."""
    if isinstance(exc, errors.NotFound):
        return NotFound(f"Container image '{image}' does not exist: {exc}")
    if isinstance(exc, errors.Unauthorized):
        return InvalidRequest(f"Container image '{image}' is not accessible: {exc}")
    if isinstance(exc, errors.RegistryUnreachable):
        return InvalidRequest(f"Container image '{image}' cannot be checked: {exc}")
    return InvalidRequest(f"Container image '{image}' cannot be read: {exc}")


async def _fetch_manifest(lend: AbstractAsyncContextManager[RegistryClient], ref: Reference) -> Manifest:
    async with lend as client:
        return await client.get_manifest(ref.path, ref.reference)


def fetch_manifest(identity: Identity, ref: Reference) -> Manifest:
    try:
        return async_to_sync(_fetch_manifest)(_borrowed(identity, ref.registry), ref)
    except errors.OciError as exc:
        raise api_error(exc, str(ref)) from None


async def _manifest_exists(lend: AbstractAsyncContextManager[RegistryClient], ref: Reference) -> bool:
    async with lend as client:
        try:
            await client.get_manifest(ref.path, ref.reference)
        except errors.NotFound:
            return False
    return True


def manifest_exists(identity: Identity, ref: Reference) -> bool:
    try:
        return async_to_sync(_manifest_exists)(_borrowed(identity, ref.registry), ref)
    except errors.OciError as exc:
        raise InvalidRequest(f"Build repository '{ref.repository}' cannot be checked: {exc}") from None


class DownloadError(Exception):
    pass


async def _download(url: str, limit: int) -> bytes:
    body = bytearray()
    transport = guarded_transport(address_policy())
    async with httpx.AsyncClient(transport=transport, follow_redirects=True, timeout=settings.WAVE_UPSTREAM_TIMEOUT) as client:
        try:
            await streamed.download(client, url, body.extend, limit=limit)
        except streamed.BadStatus as exc:
            raise DownloadError(f"fetching '{url}' answered HTTP {exc.status}") from None
        except streamed.TooLarge:
            raise DownloadError(f"'{url}' is larger than {limit} bytes") from None
    return bytes(body)


def download(url: str, limit: int) -> bytes:
    """GET a URL a request named, through the SSRF guard, at most `limit` bytes."""
    try:
        return async_to_sync(_download)(url, limit)
    except (httpx.HTTPError, errors.OciError) as exc:
        raise DownloadError(f"cannot fetch '{url}': {exc}") from None


async def _check_host(url: str, resolvable: bool) -> None:
    parts = httpx.URL(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    policy = address_policy()
    if policy.host_allowed(parts.host, port):
        return
    try:
        addresses = await resolve_addresses(parts.host, port)
    except socket.gaierror as exc:
        if resolvable:
            raise DownloadError(f"cannot resolve '{parts.host}': {exc.strerror}") from None
        return  # nothing to connect to, nothing to refuse: the client will fail on its own
    policy.check(parts.host, port, addresses)


def check_host(url: str, resolvable: bool = True) -> None:
    """Refuse a URL whose host resolves to a forbidden address, for clients the guard cannot wrap
    (rattler fetching a channel, buildah pulling a base image). Unlike the guard, those clients
    resolve again: a best effort. With `resolvable=False` a name that does not resolve passes."""
    try:
        async_to_sync(_check_host)(url, resolvable)
    except errors.OciError as exc:
        raise DownloadError(str(exc)) from None
