"""An async registry client for one registry: challenge, Basic or Bearer auth, retries.

Error messages name the registry and the image but never the credentials.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterable, AsyncIterator

import httpx

from . import mediatypes
from .auth import DEFAULT_TOKEN_CACHE, NO_AUTH, Challenge, Credentials, TokenCache, basic_auth_header, parse_challenge
from .digest import sha256_digest
from .documents import media_type_of, parse_manifest
from .errors import NotFound, RegistryError, RegistryUnreachable, Unauthorized
from .realm import realm_allowed
from .reference import DOCKER_HUB, DOCKER_HUB_API

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_DELAYS = (0.2, 0.6, 1.5)  # seconds; a Retry-After up to the last of these is honoured


@dataclass(frozen=True)
class Manifest:
    """A manifest or index exactly as the registry served it; the digest is of these bytes."""

    media_type: str
    raw: bytes
    digest: str

    @property
    def json(self) -> dict:
        """The document, checked for its media type's shape (`InvalidDocument` otherwise)."""
        return parse_manifest(self.raw, self.media_type)

    @property
    def is_index(self) -> bool:
        return self.media_type in mediatypes.INDEX_TYPES

    @classmethod
    def from_bytes(cls, raw: bytes, media_type: str | None = None) -> Manifest:
        media_type = media_type or media_type_of(raw)
        return cls(media_type, raw, sha256_digest(raw))


class FileBody:
    """A file as an upload body that can be sent again: each pass (a retry) reads it from the start,
    1 MiB at a time, where a generator could be read only once."""

    CHUNK = 1 << 20

    def __init__(self, path: Path):
        self.path = path

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with self.path.open("rb") as file:
            while chunk := file.read(self.CHUNK):
                yield chunk


def is_loopback_host(host: str) -> bool:
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def registry_base_url(registry: str, insecure: frozenset[str] | set[str] = frozenset()) -> str:
    """HTTP for loopback and configured insecure registries, HTTPS for everything else."""
    host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
    scheme = "http" if is_loopback_host(host) or host in insecure else "https"
    return f"{scheme}://{host}"


class RegistryClient:
    def __init__(
        self,
        registry: str,
        credentials: Credentials | None = None,
        *,
        insecure: frozenset[str] | set[str] = frozenset(),
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        token_cache: TokenCache = DEFAULT_TOKEN_CACHE,
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        self.base_url = registry_base_url(registry, insecure)
        self._tokens = token_cache
        self._challenge: Challenge | None = None
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, follow_redirects=True, transport=transport
        )

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- auth -----------------------------------------------------------------------------

    async def _send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        try:
            return await self._http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise RegistryUnreachable(f"Registry '{self.registry}' did not answer in time") from exc
        except httpx.TransportError as exc:
            raise RegistryUnreachable(f"Registry '{self.registry}' is unreachable: {_reason(exc)}") from exc

    async def challenge(self) -> Challenge:
        """What `GET /v2/` asks for; learned once per client."""
        if self._challenge is None:
            response = await self._send(self._http.build_request("GET", "/v2/"))
            await response.aclose()
            if response.status_code == 401:
                self._challenge = parse_challenge(response.headers.get("www-authenticate"))
            elif response.status_code < 500 and response.status_code != 429:
                self._challenge = NO_AUTH
            else:
                raise RegistryError(
                    f"Registry '{self.registry}' answered {response.status_code} to its API check", response.status_code
                )
        return self._challenge

    def _token_key(self, scope: str) -> tuple[str, str, str]:
        return (self.registry, scope, self.credentials.fingerprint if self.credentials else "")

    async def _bearer_token(self, challenge: Challenge, scope: str, fresh: bool) -> str:
        key = self._token_key(scope)
        if not fresh and (token := self._tokens.get(key)):
            return token
        if not challenge.realm:
            raise RegistryError(f"Registry '{self.registry}' asked for a bearer token without naming a realm")
        params = {"scope": scope}
        if challenge.service:
            params["service"] = challenge.service
        # Stored credentials go only to a realm of the registry's own domain; elsewhere, anonymously.
        withheld = bool(self.credentials) and not realm_allowed(self.base_url, challenge.realm)
        auth = (self.credentials.username, self.credentials.password) if self.credentials and not withheld else None
        try:
            response = await self._http.get(challenge.realm, params=params, auth=auth)
        except httpx.TransportError as exc:
            raise RegistryUnreachable(
                f"The token service of registry '{self.registry}' is unreachable: {_reason(exc)}"
            ) from exc
        if response.status_code in (401, 403) and withheld:
            raise Unauthorized(
                f"Registry '{self.registry}' sends its token requests to '{httpx.URL(challenge.realm).host}', outside "
                f"its own domain: the stored credentials are not sent there, and it refused an anonymous token for '{scope}'",
                response.status_code,
                "UNAUTHORIZED",
            )
        if response.status_code in (401, 403):
            raise Unauthorized(
                f"Registry '{self.registry}' refused the credentials for '{scope}'"
                if self.credentials
                else f"Registry '{self.registry}' requires credentials for '{scope}'",
                response.status_code,
                "UNAUTHORIZED",
            )
        if response.status_code != 200:
            raise RegistryError(
                f"The token service of registry '{self.registry}' answered {response.status_code}", response.status_code
            )
        try:  # only the parsing of the token service's answer: its mistakes are its own
            body = response.json()
            token = body.get("token") or body.get("access_token")
            lifetime = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError, RecursionError):
            raise RegistryError(f"The token service of registry '{self.registry}' sent an answer that is not a token") from None
        if not token or not isinstance(token, str):
            raise RegistryError(f"The token service of registry '{self.registry}' returned no token")
        self._tokens.put(key, token, lifetime)
        return token

    async def _authorize(self, request: httpx.Request, scope: str, fresh: bool) -> None:
        challenge = await self.challenge()
        if challenge.scheme == "bearer":
            request.headers["Authorization"] = f"Bearer {await self._bearer_token(challenge, scope, fresh)}"
        elif challenge.scheme == "basic" and self.credentials:
            request.headers["Authorization"] = basic_auth_header(self.credentials)

    async def auth_headers(self, scope: str, fresh: bool = False) -> dict[str, str]:
        """The `Authorization` header this registry wants for `scope` (empty when it wants none)."""
        request = self._http.build_request("GET", "/v2/")
        await self._authorize(request, scope, fresh)
        return {"Authorization": request.headers["Authorization"]} if "Authorization" in request.headers else {}

    async def request(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        params: dict[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with auth; a 401 is retried once with a fresh token, 429 and 5xx with backoff."""
        fresh = False
        attempt = 0
        while True:
            request = self._http.build_request(method, url, headers=headers, content=content, params=params)
            await self._authorize(request, scope, fresh)
            response = await self._send(request, stream=stream)
            if response.status_code == 401 and not fresh:
                await response.aclose()
                fresh = True
                continue
            if response.status_code in RETRY_STATUSES and attempt < len(RETRY_DELAYS):
                await response.aclose()
                await asyncio.sleep(_retry_delay(response, attempt))
                attempt += 1
                continue
            return response

    # --- reading --------------------------------------------------------------------------

    def _scope(self, path: str, actions: str = "pull") -> str:
        return f"repository:{path}:{actions}"

    async def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code < 400:
            return
        if response.is_stream_consumed is False:
            await response.aread()
        status = response.status_code
        code, detail = _registry_error(response)
        if status == 404:
            raise NotFound(f"{what} was not found in registry '{self.registry}'", status, code or "NOT_FOUND")
        if status in (401, 403):
            raise Unauthorized(
                f"Access to {what} in registry '{self.registry}' was denied"
                + (" with the stored credentials" if self.credentials else "; no credentials are stored for it"),
                status,
                "UNAUTHORIZED",
            )
        raise RegistryError(
            f"Registry '{self.registry}' answered {status} for {what}" + (f": {detail}" if detail else ""), status, code
        )

    async def get_manifest(self, path: str, reference: str) -> Manifest:
        response = await self.request(
            "GET", f"/v2/{path}/manifests/{reference}", scope=self._scope(path), headers={"Accept": mediatypes.MANIFEST_ACCEPT}
        )
        await self._check(response, f"manifest '{path}:{reference}'" if ":" not in reference else f"manifest '{path}@{reference}'")
        raw = response.content
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in mediatypes.INDEX_TYPES | mediatypes.IMAGE_TYPES | mediatypes.SCHEMA1_TYPES:
            media_type = media_type_of(raw)
        manifest = Manifest(media_type, raw, sha256_digest(raw))
        if reference.startswith("sha256:") and manifest.digest != reference:
            raise RegistryError(f"Registry '{self.registry}' served a manifest whose digest is not {reference}")
        return manifest

    async def get_blob(self, path: str, digest: str) -> bytes:
        """A small blob (a config) in memory; layers go through `open_blob` or `oci.copy.copy_blob`."""
        response = await self.request("GET", f"/v2/{path}/blobs/{digest}", scope=self._scope(path))
        await self._check(response, f"blob '{digest}' of '{path}'")
        if sha256_digest(response.content) != digest:
            raise RegistryError(f"Registry '{self.registry}' served blob {digest} with other content")
        return response.content

    async def open_blob(self, path: str, digest: str) -> httpx.Response:
        """The blob as a stream (read it with `aiter_raw`, then close it); the reader checks the digest."""
        response = await self.request("GET", f"/v2/{path}/blobs/{digest}", scope=self._scope(path), stream=True)
        try:
            await self._check(response, f"blob '{digest}' of '{path}'")
        except BaseException:
            await response.aclose()
            raise
        return response

    async def head_blob(self, path: str, digest: str) -> httpx.Response:
        response = await self.request("HEAD", f"/v2/{path}/blobs/{digest}", scope=self._scope(path))
        await self._check(response, f"blob '{digest}' of '{path}'")
        return response

    # --- writing --------------------------------------------------------------------------

    async def blob_exists(self, path: str, digest: str) -> bool:
        response = await self.request("HEAD", f"/v2/{path}/blobs/{digest}", scope=self._scope(path, "pull,push"))
        if response.status_code == 404:
            return False
        await self._check(response, f"blob '{digest}' of '{path}'")
        return True

    async def push_blob(self, path: str, data: bytes, digest: str | None = None) -> str:
        """Upload a blob unless the registry already has it."""
        digest = digest or sha256_digest(data)
        if not await self.blob_exists(path, digest):
            await self.upload_blob(path, digest, data)
        return digest

    async def mount_blob(self, path: str, digest: str, from_path: str) -> bool:
        """Link a blob another repository of this registry holds (no bytes move); False if refused."""
        response = await self.request(
            "POST", f"/v2/{path}/blobs/uploads/", scope=self._scope(path, "pull,push"),
            params={"mount": digest, "from": from_path},
        )
        await response.aread()
        if response.status_code == 201:
            return True
        if response.status_code == 202:  # the registry started a plain upload instead; leave it
            return False
        await self._check(response, f"a mount of '{digest}' into '{path}'")
        return False

    async def upload_blob(self, path: str, digest: str, content: bytes | AsyncIterable[bytes]) -> None:
        """A monolithic upload (POST, then one PUT); `content` may stream, the registry checks the digest."""
        scope = self._scope(path, "pull,push")
        started = await self.request("POST", f"/v2/{path}/blobs/uploads/", scope=scope)
        await self._check(started, f"an upload to '{path}'")
        location = started.headers["location"]
        # The upload URL carries the registry's own state in its query: add to it, never replace it.
        location += ("&" if "?" in location else "?") + f"digest={digest}"
        done = await self.request(
            "PUT", location, scope=scope, content=content, headers={"Content-Type": "application/octet-stream"}
        )
        await self._check(done, f"blob '{digest}' upload to '{path}'")

    async def push_manifest(self, path: str, reference: str, manifest: Manifest) -> str:
        response = await self.request(
            "PUT",
            f"/v2/{path}/manifests/{reference}",
            scope=self._scope(path, "pull,push"),
            content=manifest.raw,
            headers={"Content-Type": manifest.media_type},
        )
        await self._check(response, f"manifest '{path}:{reference}'")
        return manifest.digest


def _retry_delay(response: httpx.Response, attempt: int) -> float:
    try:
        return min(float(response.headers.get("retry-after", "")), RETRY_DELAYS[-1])
    except ValueError:
        return RETRY_DELAYS[attempt]


def _registry_error(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return None, None
    if errors and isinstance(errors[0], dict):
        return errors[0].get("code"), errors[0].get("message")
    return None, None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("\n")[0][:200]
