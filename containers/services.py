"""Container requests: from a validated body to a stored request, a token and a target image."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.identity import Identity
from builds.models import Build
from builds.services import BuildPlan, plan_build, submit_build
from metrics import ratelimit
from oci.reference import parse_reference
from wave_site.errors import ApiError

from . import upstream
from .build_context import redact_build_context, store_build_context
from .includes import with_includes
from .layers import redact_layers, store_layers
from .models import ContainerRequest, new_token
from .tokens import cache_token, token_info

SECRET_ATTRIBUTES = ("towerAccessToken", "towerRefreshToken")


@dataclass(frozen=True)
class Caller:
    identity: Identity
    ip_address: str | None
    user_agent: str
    endpoint: str


def stored_request(body: dict) -> dict:
    """The request as kept in Postgres: no secrets, no inline layer data."""
    kept = {k: v for k, v in body.items() if k not in SECRET_ATTRIBUTES}
    if isinstance(kept.get("containerConfig"), dict):
        kept["containerConfig"] = redact_layers(kept["containerConfig"])
    if isinstance(kept.get("buildContext"), dict):
        kept["buildContext"] = redact_build_context(kept["buildContext"])
    return kept


def wave_image_name(token: str, path_and_reference: str) -> str:
    return f"{settings.WAVE_SERVER_AUTHORITY}/wt/{token}/{path_and_reference}"


def _expiry():
    return timezone.now() + timedelta(seconds=settings.WAVE_TOKEN_LIFETIME)


def _new_request(caller: Caller, body: dict, attrs: dict, **fields) -> ContainerRequest:
    request = ContainerRequest.objects.create(
        user=caller.identity.user,
        workspace=caller.identity.workspace,
        org=caller.identity.org or "",
        ip_address=caller.ip_address,
        user_agent=caller.user_agent[:255],
        endpoint=caller.endpoint,
        request=stored_request(body),
        container_config=redact_layers(attrs.get("containerConfig")),
        platform=attrs["containerPlatform"],
        **fields,
    )
    transaction.on_commit(lambda: cache_token(token_info(request)))
    return request


def _issue_token(caller: Caller, body: dict, attrs: dict, path_and_reference: str, **fields) -> ContainerRequest:
    """A stored request with a new token, naming the image behind this service's authority."""
    token = new_token()
    return _new_request(
        caller, body, attrs, token=token, target_image=wave_image_name(token, path_and_reference), expires_at=_expiry(), **fields
    )


def _rate_limit(kind: str, caller: Caller) -> None:
    user = caller.identity.user
    try:
        ratelimit.check(kind, user.pk if user else None, caller.ip_address)
    except ratelimit.RateLimited as exc:
        raise ApiError(exc.message, status=429, headers={"Retry-After": str(exc.retry_after)}) from None


def request_container(caller: Caller, body: dict, attrs: dict) -> dict:
    """Handle one validated container request and return the response body."""
    _rate_limit("pulls", caller)
    layers = (attrs.get("containerConfig") or {}).get("layers")
    if layers:
        store_layers(layers)
    if attrs.get("buildContext"):
        store_build_context(attrs["buildContext"])
    if attrs.get("containerIncludes"):
        attrs = with_includes(caller.identity, attrs)
    if attrs.get("containerFile") or attrs.get("packages") or attrs.get("condaFile") or attrs["freeze"]:
        return _request_build(caller, body, attrs)
    return _request_proxy(caller, body, attrs)


def _request_proxy(caller: Caller, body: dict, attrs: dict) -> dict:
    ref = parse_reference(attrs["containerImage"])
    manifest = upstream.fetch_manifest(caller.identity, ref)
    request = _issue_token(
        caller, body, attrs, ref.path_and_reference, container_image=str(ref), source_digest=manifest.digest
    )
    return {
        "requestId": request.token,
        "containerToken": request.token,
        "targetImage": request.target_image,
        "expiration": request.expires_at,
        "containerImage": request.container_image,
        "cached": False,
        "freeze": False,
        "succeeded": True,
    }


def _request_build(caller: Caller, body: dict, attrs: dict) -> dict:
    plan = plan_build(attrs)
    if attrs.get("dryRun"):
        return _response(plan, build_id=f"{plan.content_hash}_0", cached=False, request=None)
    if attrs.get("containerImage"):  # freeze: the source must be readable before anything is built
        upstream.fetch_manifest(caller.identity, parse_reference(attrs["containerImage"]))
    target = parse_reference(plan.target_image)
    build, cached = submit_build(
        plan, caller.identity, lambda: upstream.manifest_exists(caller.identity, target), lambda: _rate_limit("builds", caller)
    )
    request = None
    if not plan.freeze:
        request = _issue_token(
            caller, body, attrs, target.path_and_reference,
            container_image=attrs.get("containerImage") or "", build=build, cached=cached,
        )
    return _response(plan, build_id=build.id, cached=cached, request=request, build=build)


def _response(plan: BuildPlan, *, build_id: str, cached: bool, request: ContainerRequest | None, build: Build | None = None) -> dict:
    body = {"buildId": build_id, "cached": cached, "freeze": plan.freeze}
    if request is None:
        body["targetImage"] = plan.client_image
    else:
        body.update(
            requestId=request.token,
            containerToken=request.token,
            targetImage=request.target_image,
            expiration=request.expires_at,
        )
    if build is not None and build.completed:
        body["succeeded"] = bool(build.succeeded)
    return body
