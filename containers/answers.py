"""Answers shaped as Wave's (`ContainerHelper.makeResponseV2`, `ContainerStatusServiceImpl`): a null
is left out, as Wave's JSON leaves it out; `false` is kept."""

from __future__ import annotations

from builds.services import BuildPlan

from .models import ContainerRequest


def build_answer(plan: BuildPlan, request: ContainerRequest, *, build_id: str, cached: bool, succeeded: bool | None) -> dict:
    """The answer to a build request. `containerImage` is the build's image, as Wave sends it; a
    durable (frozen) answer names that image as `targetImage` and has no token or expiration."""
    body = {
        "requestId": request.token,
        "targetImage": plan.client_image if plan.freeze else request.target_image,
        "containerImage": plan.client_image,
        "buildId": build_id,
        "cached": cached,
        "freeze": plan.freeze,
    }
    if not plan.freeze:
        body.update(containerToken=request.token, expiration=request.expires_at)
    if succeeded is not None:
        body["succeeded"] = succeeded
    return body
