"""Container requests: from a validated body to a stored request, a token and a target image."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.identity import Identity
from builds.services import BuildPlan, plan_build, submit_build
from metrics import ratelimit
from oci.reference import parse_reference
from wave_site.errors import TooManyRequests

from . import upstream
from .build_context import redact_build_context, verify_build_context
from .includes import with_includes
from .layers import VerifiedBlob, keep, redact_layers, verify_layers
from .answers import build_answer
from .models import ContainerRequest, new_token
from .scanning import check_request as check_scan
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
        api_token=caller.identity.api_token,
        org=caller.identity.org or "",
        ip_address=caller.ip_address,
        user_agent=caller.user_agent[:255],
        endpoint=caller.endpoint,
        request=stored_request(body),
        container_config=redact_layers(attrs.get("containerConfig")),
        platform=attrs["containerPlatform"],
        **fields,
    )
    if not request.freeze:  # a durable request's id follows its status; it is no pull capability
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
        raise TooManyRequests(exc.message, retry_after=exc.retry_after) from None


def request_container(caller: Caller, body: dict, attrs: dict) -> dict:
    """Handle one validated container request and return the response body."""
    _rate_limit("pulls", caller)
    check_scan(attrs)
    # Checked now, stored only once nothing below refuses the request (see `layers.keep`).
    blobs = verify_layers((attrs.get("containerConfig") or {}).get("layers") or [])
    if attrs.get("buildContext") and (context := verify_build_context(attrs["buildContext"])):
        blobs.append(context)
    if attrs.get("containerIncludes"):
        attrs = with_includes(caller.identity, attrs)
    if attrs.get("mirror"):
        from mirrors.services import request_mirror  # here: mirrors.services builds on this module

        return request_mirror(caller, body, attrs)
    if attrs.get("containerFile") or attrs.get("packages") or attrs.get("condaFile") or attrs["freeze"]:
        return _request_build(caller, body, attrs, blobs)
    return _request_proxy(caller, body, attrs, blobs)


def _request_proxy(caller: Caller, body: dict, attrs: dict, blobs: list[VerifiedBlob]) -> dict:
    ref = parse_reference(attrs["containerImage"])
    manifest = upstream.fetch_manifest(caller.identity, ref)
    keep(blobs)
    request = _issue_token(
        caller, body, attrs, ref.path_and_reference, container_image=str(ref), source_digest=manifest.digest
    )
    return {
        "requestId": request.token,
        "containerToken": request.token,
        "targetImage": request.target_image,
        "expiration": request.expires_at,
        "containerImage": request.container_image,
        "freeze": False,
        "succeeded": True,
    }


def _request_build(caller: Caller, body: dict, attrs: dict, blobs: list[VerifiedBlob]) -> dict:
    plan = plan_build(attrs)
    target = parse_reference(plan.target_image)
    if attrs.get("dryRun"):  # names the image a real run would, and stores no build (see README, Dry runs)
        cached = upstream.manifest_exists(caller.identity, target)
        request = _build_request(caller, body, attrs, plan, container_image=plan.target_image)
        return build_answer(plan, request, build_id=f"{plan.content_hash}_0", cached=cached, succeeded=True)
    if attrs.get("containerImage"):  # freeze: the source must be readable before anything is built
        upstream.fetch_manifest(caller.identity, parse_reference(attrs["containerImage"]))

    def count_build() -> None:  # the last refusal: past it a new build is made, and reads the blobs
        _rate_limit("builds", caller)
        keep(blobs)

    build, cached = submit_build(plan, caller.identity, lambda: upstream.manifest_exists(caller.identity, target), count_build)
    keep(blobs)  # a build shared with an earlier request: this request's row names the blobs too
    request = _build_request(
        caller, body, attrs, plan, container_image=attrs.get("containerImage") or "", build=build, cached=cached
    )
    return build_answer(plan, request, build_id=build.id, cached=cached, succeeded=build.succeeded)


def _build_request(caller: Caller, body: dict, attrs: dict, plan: BuildPlan, **fields) -> ContainerRequest:
    """Every build answer has a request id the container status follows (`wave --freeze --await`);
    a frozen image is pulled straight from where it was pushed, so its request issues no token."""
    if plan.freeze:
        return _new_request(caller, body, attrs, target_image=plan.client_image, freeze=True, **fields)
    return _issue_token(caller, body, attrs, parse_reference(plan.target_image).path_and_reference, **fields)
