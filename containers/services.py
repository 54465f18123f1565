"""Container requests: from a validated body to a stored request, a token and a target image."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.identity import Identity
from builds.request_spec import ContainerRequestSpec, thawed
from builds.services import BuildPlan, plan_build, submit_build
from limits import ratelimit
from mirrors.services import plan_mirror
from oci.reference import parse_reference
from wave_site.errors import TooManyRequests

from registries import upstream
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


def stored_request(body: Mapping) -> dict:
    """The request as kept in Postgres: no secrets, no inline layer data."""
    kept = {k: v for k, v in thawed(body).items() if k not in SECRET_ATTRIBUTES}
    if isinstance(kept.get("containerConfig"), dict):
        kept["containerConfig"] = redact_layers(kept["containerConfig"])
    if isinstance(kept.get("buildContext"), dict):
        kept["buildContext"] = redact_build_context(kept["buildContext"])
    return kept


def wave_image_name(token: str, path_and_reference: str) -> str:
    return f"{settings.WAVE_SERVER_AUTHORITY}/wt/{token}/{path_and_reference}"


def _expiry():
    return timezone.now() + timedelta(seconds=settings.WAVE_TOKEN_LIFETIME)


def _new_request(caller: Caller, spec: ContainerRequestSpec, **fields) -> ContainerRequest:
    request = ContainerRequest.objects.create(
        user=caller.identity.user,
        workspace=caller.identity.workspace,
        api_token=caller.identity.api_token,
        org=caller.identity.org or "",
        ip_address=caller.ip_address,
        user_agent=caller.user_agent[:255],
        endpoint=caller.endpoint,
        request=stored_request(spec.body),
        container_config=redact_layers(thawed(spec.container_config)),
        platform=spec.platform,
        **fields,
    )
    if not request.freeze:  # a durable request's id follows its status; it is no pull capability
        transaction.on_commit(lambda: cache_token(token_info(request)))
    return request


def _issue_token(caller: Caller, spec: ContainerRequestSpec, path_and_reference: str, **fields) -> ContainerRequest:
    """A stored request with a new token, naming the image behind this service's authority."""
    token = new_token()
    return _new_request(
        caller, spec, token=token, target_image=wave_image_name(token, path_and_reference), expires_at=_expiry(), **fields
    )


def _rate_limit(kind: str, caller: Caller) -> None:
    user = caller.identity.user
    try:
        ratelimit.check(kind, user.pk if user else None, caller.ip_address)
    except ratelimit.RateLimited as exc:
        raise TooManyRequests(exc.message, retry_after=exc.retry_after) from None


def request_container(caller: Caller, spec: ContainerRequestSpec) -> dict:
    """Handle one validated container request and return the response body."""
    _rate_limit("pulls", caller)
    check_scan(spec)
    # Checked now, stored only once nothing below refuses the request (see `layers.keep`).
    blobs = verify_layers(thawed(spec.layers))
    if spec.build_context and (context := verify_build_context(thawed(spec.build_context))):
        blobs.append(context)
    if spec.container_includes:
        spec = with_includes(caller.identity, spec)
    if spec.mirror:
        return _request_mirror(caller, spec)
    if spec.builds:
        return _request_build(caller, spec, blobs)
    return _request_proxy(caller, spec, blobs)


def _request_mirror(caller: Caller, spec: ContainerRequestSpec) -> dict:
    """Wave's answer to a mirror request (`ContainerController.checkMirror`, `makeResponseV2`)."""
    plan = plan_mirror(caller.identity, spec)
    with transaction.atomic():
        # A durable request: the image is pulled from the target itself, so the request id is no
        # pull token (it expires as it is made).
        request = _new_request(
            caller, spec, token=new_token(), container_image=str(plan.source), source_digest=plan.digest,
            target_image=plan.target, expires_at=timezone.now(), cached=plan.cached,
        )
        if plan.mirror is not None:
            plan.mirror.requests.add(request)
    answer = {"requestId": request.token, "targetImage": plan.target, "containerImage": plan.target, "freeze": False, "mirror": True}
    if plan.mirror_id:  # Wave's `cached` comes with a build (here: mirror) id only
        answer.update(buildId=plan.mirror_id, cached=plan.cached)
    if plan.succeeded is not None:
        answer["succeeded"] = plan.succeeded
    return answer


def _request_proxy(caller: Caller, spec: ContainerRequestSpec, blobs: list[VerifiedBlob]) -> dict:
    ref = parse_reference(spec.container_image)
    manifest = upstream.fetch_manifest(caller.identity, ref)
    keep(blobs)
    request = _issue_token(
        caller, spec, ref.path_and_reference, container_image=str(ref), source_digest=manifest.digest
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


def _request_build(caller: Caller, spec: ContainerRequestSpec, blobs: list[VerifiedBlob]) -> dict:
    plan = plan_build(spec)
    target = parse_reference(plan.target_image)
    if spec.dry_run:  # names the image a real run would, and stores no build (see README, Dry runs)
        cached = upstream.manifest_exists(caller.identity, target)
        request = _build_request(caller, spec, plan, container_image=plan.target_image)
        return build_answer(plan, request, build_id=f"{plan.content_hash}_0", cached=cached, succeeded=True)
    if spec.container_image:  # freeze: the source must be readable before anything is built
        upstream.fetch_manifest(caller.identity, parse_reference(spec.container_image))

    def count_build() -> None:  # the last refusal: past it a new build is made, and reads the blobs
        _rate_limit("builds", caller)
        keep(blobs)

    build, cached = submit_build(plan, caller.identity, lambda: upstream.manifest_exists(caller.identity, target), count_build)
    keep(blobs)  # a build shared with an earlier request: this request's row names the blobs too
    request = _build_request(
        caller, spec, plan, container_image=spec.container_image or "", build=build, cached=cached
    )
    return build_answer(plan, request, build_id=build.id, cached=cached, succeeded=build.succeeded)


def _build_request(caller: Caller, spec: ContainerRequestSpec, plan: BuildPlan, **fields) -> ContainerRequest:
    """Every build answer has a request id the container status follows (`wave --freeze --await`);
    a frozen image is pulled straight from where it was pushed, so its request issues no token."""
    if plan.freeze:
        return _new_request(caller, spec, target_image=plan.client_image, freeze=True, **fields)
    return _issue_token(caller, spec, parse_reference(plan.target_image).path_and_reference, **fields)
