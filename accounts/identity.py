"""Who is asking: the `towerAccessToken`, `towerEndpoint` and `towerWorkspaceId` of a request."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from oci.auth import Credentials
from oci.errors import Unauthorized as RegistryRefused
from oci.reference import DOCKER_HUB
from wave_site.errors import Forbidden, InvalidRequest, Unauthorized

from .crypto import SecretUnreadable
from .models import TOKEN_PREFIX, ApiToken, RegistryCredential, User, Workspace, hash_token
from .platform_identity import platform_identity


@dataclass(frozen=True)
class Identity:
    user: User | None = None
    workspace: Workspace | None = None
    api_token: ApiToken | None = None  # the one the request came with; its container tokens die with it

    @property
    def org(self) -> str | None:
        return self.user.org if self.user else None


ANONYMOUS = Identity()


# Wave rewrites the Platform's legacy hosts before anything else (`ContainerHelper.patchPlatformEndpoint`).
_LEGACY_PLATFORM_HOSTS = {"api.tower.nf": "api.cloud.seqera.io", "api.stage-tower.net": "api.cloud.stage-seqera.io"}


def _authority(url: str) -> str:
    authority = urlsplit(url).netloc.lower()
    return _LEGACY_PLATFORM_HOSTS.get(authority, authority)


def _names(endpoint: str, urls: list[str]) -> bool:
    authority = _authority(endpoint)
    return bool(authority) and authority in {_authority(url) for url in urls}


def _is_local_endpoint(endpoint: str) -> bool:
    return _names(endpoint, [settings.WAVE_SERVER_URL, *settings.WAVE_ACCEPTED_TOWER_ENDPOINTS])


def active_api_token(plaintext: str) -> ApiToken | None:
    token = ApiToken.objects.active().select_related("user").filter(token_hash=hash_token(plaintext)).first()
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


def user_for_token(plaintext: str) -> User | None:
    token = active_api_token(plaintext)
    return token.user if token else None


def _configured(endpoint: str) -> str:
    """The configured Platform endpoint a request named: the one called, never the request's own text."""
    url = next(url for url in settings.WAVE_PLATFORM_ENDPOINTS if _authority(url) == _authority(endpoint))
    parts = urlsplit(url)
    return f"{parts.scheme}://{_authority(url)}{parts.path.rstrip('/')}"


def request_token(body_token: str | None, authorization: str) -> str | None:
    """The `towerAccessToken`, or the bearer token Nextflow also sends in `Authorization`."""
    scheme, _, header_token = authorization.partition(" ")
    header_token = header_token.strip() if scheme.lower() == "bearer" else ""
    if body_token and header_token and body_token != header_token:
        raise InvalidRequest("towerAccessToken and the Authorization header carry different tokens: send one token")
    return body_token or header_token or None


def identify(access_token: str | None, endpoint: str | None, workspace_id: int | None) -> Identity:
    """The caller. Nextflow and wave-cli name a public Seqera Platform endpoint unless told otherwise:
    without a token that is an anonymous request; with one, a token of this service names its user,
    and any other is checked with that Platform (when the operator lists it in WAVE_PLATFORM_ENDPOINTS)."""
    platform = bool(endpoint) and not _is_local_endpoint(endpoint) and _names(endpoint, settings.WAVE_PLATFORM_ENDPOINTS)
    if endpoint and not platform and not _is_local_endpoint(endpoint):
        raise InvalidRequest(
            f"Unsupported towerEndpoint '{endpoint}': this service only accepts its own accounts "
            f"(omit towerEndpoint or use '{settings.WAVE_SERVER_URL}') and the Seqera Platforms its operators "
            "trust (WAVE_PLATFORM_ENDPOINTS)"
        )
    if not access_token:
        if workspace_id is not None:
            raise InvalidRequest(f"towerWorkspaceId '{workspace_id}' requires a towerAccessToken")
        return ANONYMOUS
    token = active_api_token(access_token)
    if token is None and platform and not access_token.startswith(TOKEN_PREFIX):
        return Identity(*platform_identity(_configured(endpoint), access_token, workspace_id))
    if token is None:
        raise Unauthorized("Invalid towerAccessToken: the token is unknown or has been revoked")
    user = token.user
    if workspace_id is None:
        return Identity(user, api_token=token)
    workspace = Workspace.objects.filter(pk=workspace_id, members=user).first()
    if workspace is None:
        raise Forbidden(f"Unknown towerWorkspaceId '{workspace_id}', or you are not a member of it")
    return Identity(user, workspace, token)


def _registry_keys(registry: str) -> list[str]:
    return ["docker.io", "index.docker.io", "registry-1.docker.io"] if registry == DOCKER_HUB else [registry]


def credentials_for(identity: Identity, registry: str) -> Credentials | None:
    """The credentials for `registry`: the caller's stored ones, else the service's own for a registry
    it runs (`WAVE_REGISTRY_CREDENTIALS`)."""
    return _stored_credentials(identity, registry) or settings.WAVE_REGISTRY_CREDENTIALS.get(registry)


def _stored_credentials(identity: Identity, registry: str) -> Credentials | None:
    """The workspace's stored credentials when one is selected, else the user's."""
    if identity.user is None:
        return None
    owner = {"workspace": identity.workspace} if identity.workspace else {"user": identity.user}
    stored = RegistryCredential.objects.filter(registry__in=_registry_keys(registry), **owner).first()
    if stored is None:
        return None
    try:
        return Credentials(stored.username, stored.get_secret())
    except SecretUnreadable:  # reported as the registry refusing us, as before the domain exceptions
        raise RegistryRefused(
            f"The stored credentials for registry '{registry}' cannot be decrypted with the configured keys; "
            "store them again"
        ) from None
