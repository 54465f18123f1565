"""A `mirror: true` container request: Wave's answer (`ContainerController.checkMirror`, `makeResponseV2`)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.identity import Identity
from builds.request_spec import ContainerRequestSpec
from registries import upstream
from containers.models import new_token
from containers.services import Caller, _new_request
from wave_site.errors import ApiError
from oci.reference import Reference, parse_reference

from .jobs import enqueue_mirror
from .models import Mirror, new_mirror_id
from .validation import target_image


def _target_digest(identity: Identity, target: Reference) -> str | None:
    """The digest the target holds, or None: like Wave, a target that cannot be read (absent, refused,
    down) is simply not a cache hit, and the copy reports what is wrong with it."""
    try:
        return upstream.fetch_manifest(identity, target).digest
    except ApiError:
        return None


def _submit(caller: Caller, source: str, target: str, digest: str) -> Mirror:
    """The copy of `target` under way (Wave keys mirrors by target), or a new one queued at commit."""
    for _ in range(3):
        active = Mirror.objects.filter(target_image=target, status__in=Mirror.ACTIVE).first()
        if active is not None:
            return active
        try:
            with transaction.atomic():
                mirror = Mirror.objects.create(
                    source_image=source, target_image=target, digest=digest, user=caller.identity.user,
                    workspace=caller.identity.workspace, org=caller.identity.org or "",
                )
        except IntegrityError:  # a simultaneous request made it first: join it
            continue
        transaction.on_commit(lambda: enqueue_mirror(mirror.id))
        return mirror
    raise RuntimeError(f"no mirror of '{target}' could be made or found")


def request_mirror(caller: Caller, spec: ContainerRequestSpec) -> dict:
    source = parse_reference(spec.container_image)
    digest = upstream.fetch_manifest(caller.identity, source).digest  # 404/400 naming the image
    target = target_image(spec.container_image, spec.build_repository)
    cached = _target_digest(caller.identity, parse_reference(target)) == digest
    mirror_id, mirror, succeeded = None, None, None
    if spec.dry_run:
        mirror_id, succeeded = f"{new_mirror_id()}_0", True
    elif cached:  # the target has this very image: the last mirror that made it, if any
        mirror = Mirror.objects.filter(target_image=target, digest=digest, status=Mirror.Status.SUCCEEDED).first()
        mirror_id, succeeded = (mirror.id if mirror else None), True
    else:
        mirror = _submit(caller, str(source), target, digest)
        mirror_id, cached, succeeded = mirror.id, mirror.completed, mirror.succeeded
    with transaction.atomic():
        # A durable request: the image is pulled from the target itself, so the request id is no
        # pull token (it expires as it is made).
        request = _new_request(
            caller, spec, token=new_token(), container_image=str(source), source_digest=digest,
            target_image=target, expires_at=timezone.now(), cached=cached,
        )
        if mirror is not None:
            mirror.requests.add(request)
    answer = {"requestId": request.token, "targetImage": target, "containerImage": target, "freeze": False, "mirror": True}
    if mirror_id:  # Wave's `cached` comes with a build (here: mirror) id only
        answer.update(buildId=mirror_id, cached=cached)
    if succeeded is not None:
        answer["succeeded"] = succeeded
    return answer
