"""What a mirror request's container status and `GET /v1alpha1/mirrors/{id}` say (Wave's
`ContainerStatusServiceImpl` and `MirrorResult`)."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from wave_site.api import seconds

from .jobs import is_stale, stale_reason
from .models import Mirror

FAILED_REASON = "Container mirror did not complete successfully"


def details_uri(mirror: Mirror) -> str:
    return f"{settings.WAVE_SERVER_URL}/view/mirrors/{mirror.id}"


def fresh(mirror: Mirror) -> Mirror:
    """The mirror as the housekeeper will leave it: past its timeout, FAILED with the reaper's reason
    (and log line, when the log was loaded), in memory only. Reads never write."""
    if is_stale(mirror):
        reason = stale_reason()
        mirror.status, mirror.reason, mirror.finished_at = Mirror.Status.FAILED, reason, timezone.now()
        if "log" in mirror.__dict__:
            mirror.log += f"Mirror failed: {reason}\n"
    return mirror


def mirror_status(mirror: Mirror | None, body: dict) -> dict:
    """PENDING until a worker takes the copy, BUILDING while it runs, then DONE with `succeeded` and
    `duration` (from the request, as a build's container status counts from the build's start)."""
    if mirror is None:  # a dry run, or the target had the image already
        return {**body, "status": "DONE", "succeeded": True}
    mirror = fresh(mirror)
    body["mirrorId"] = mirror.id
    if not mirror.completed:
        return {**body, "status": "PENDING" if mirror.status == Mirror.Status.PENDING else "BUILDING"}
    body.update(status="DONE", succeeded=bool(mirror.succeeded), duration=seconds(mirror.created_at, mirror.finished_at or mirror.created_at))
    if not mirror.succeeded:
        body["reason"] = f"{FAILED_REASON} - Cause: {mirror.reason}"
        body["detailsUri"] = details_uri(mirror)
    return body


def mirror_result(mirror: Mirror) -> dict:
    """Wave's MirrorResult, without `userName` (public by id: the user id only); `reason` added on
    failure (the log says the same, last)."""
    result = {
        "mirrorId": mirror.id,
        "digest": mirror.digest,
        "sourceImage": mirror.source_image,
        "targetImage": mirror.target_image,
        "platform": mirror.platform or None,
        "creationTime": mirror.created_at,
        "userId": mirror.user_id,
        "status": "COMPLETED" if mirror.completed else "PENDING",
        "duration": mirror.duration,
        "exitCode": (0 if mirror.succeeded else 1) if mirror.completed else None,
        "logs": mirror.log or None,
        "reason": mirror.reason or None,
    }
    return {key: value for key, value in result.items() if value is not None}
