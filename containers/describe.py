"""What the service tells about a stored container request."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from builds.models import Build
from mirrors.status import mirror_status
from wave_site.api import seconds

from .models import ContainerRequest


def build_page_url(build: Build) -> str:
    return f"{settings.WAVE_SERVER_URL}/view/builds/{build.id}"


def describe(request: ContainerRequest) -> dict:
    build = request.build
    return {
        "token": request.token,
        "requestId": request.token,
        "creationTime": request.created_at,
        "expiration": request.expires_at,
        "revoked": request.revoked_at is not None,
        "endpoint": request.endpoint,
        "request": request.request,
        "user": {"id": request.user_id} if request.user_id else None,  # as Wave: no name, no email (domain)
        "workspaceId": request.workspace_id,
        "platform": request.platform,
        "source": {"image": request.container_image or None, "digest": request.source_digest or None},
        "wave": {"image": request.target_image, "digest": request.wave_digest or None},
        "build": _build(build) if build else None,
        "freeze": request.freeze,
    }


def _build(build: Build) -> dict:
    return {
        "buildId": build.id,
        "status": build.api_status,
        "succeeded": build.succeeded,
        "targetImage": build.target_image,
        "buildRepository": build.build_repository,
        "cacheRepository": build.cache_repository or None,
        "digest": build.digest or None,
    }


def status(request: ContainerRequest) -> dict:
    """`PENDING` before a build starts, `BUILDING` while it runs, `DONE` after (or at once without a build).
    `duration`, as in Wave, is the build's once it ended, or the request's age when there is no build."""
    body: dict = {"id": request.token, "creationTime": request.created_at}
    if request.request.get("mirror") is True:
        return mirror_status(request.mirrors.defer("log").first(), body)
    build = request.build
    if build is None:
        return {**body, "status": "DONE", "succeeded": True, "duration": seconds(request.created_at, timezone.now())}
    body["buildId"] = build.id
    if not build.completed:
        return {**body, "status": "PENDING" if build.status == Build.Status.PENDING else "BUILDING"}
    started = build.started_at or build.finished_at or request.created_at
    body.update(status="DONE", succeeded=bool(build.succeeded), duration=seconds(started, build.finished_at or started))
    if not build.succeeded:
        body["reason"] = build.reason or "the build failed"
        body["detailsUri"] = build_page_url(build)
    return body
