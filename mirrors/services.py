"""A `mirror: true` container request: the copy it asks for, found or queued (the request row and
Wave's answer are made by `containers/services.py`, above this app)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from accounts.identity import Identity
from builds.request_spec import ContainerRequestSpec
from registries import upstream
from wave_site.errors import DomainError
from oci.reference import Reference, parse_reference

from .jobs import enqueue_mirror
from .models import Mirror, new_mirror_id
from .validation import target_image


def _target_digest(identity: Identity, target: Reference) -> str | None:
    """The digest the target holds, or None: like Wave, a target that cannot be read (absent, refused,
    down) is simply not a cache hit, and the copy reports what is wrong with it."""
    try:
        return upstream.fetch_manifest(identity, target).digest
    except DomainError:
        return None


def _submit(identity: Identity, source: str, target: str, digest: str) -> Mirror:
    """The copy of `target` under way (Wave keys mirrors by target), or a new one queued at commit."""
    for _ in range(3):
        active = Mirror.objects.filter(target_image=target, status__in=Mirror.ACTIVE).first()
        if active is not None:
            return active
        try:
            with transaction.atomic():
                mirror = Mirror.objects.create(
                    source_image=source, target_image=target, digest=digest, user=identity.user,
                    workspace=identity.workspace, org=identity.org or "",
                )
        except IntegrityError:  # a simultaneous request made it first: join it
            continue
        transaction.on_commit(lambda: enqueue_mirror(mirror.id))
        return mirror
    raise RuntimeError(f"no mirror of '{target}' could be made or found")


@dataclass(frozen=True)
class MirrorPlan:
    """What a `mirror: true` request gets: the source and its digest, the target, and the copy that
    makes it (None for a dry run, or when the target had the image before any mirror of ours)."""

    source: Reference
    digest: str
    target: str
    mirror: Mirror | None
    mirror_id: str | None
    cached: bool
    succeeded: bool | None


def plan_mirror(identity: Identity, spec: ContainerRequestSpec) -> MirrorPlan:
    source = parse_reference(spec.container_image)
    digest = upstream.fetch_manifest(identity, source).digest  # 404/400 naming the image
    target = target_image(spec.container_image, spec.build_repository)
    cached = _target_digest(identity, parse_reference(target)) == digest
    mirror_id, mirror, succeeded = None, None, None
    if spec.dry_run:
        mirror_id, succeeded = f"{new_mirror_id()}_0", True
    elif cached:  # the target has this very image: the last mirror that made it, if any
        mirror = Mirror.objects.filter(target_image=target, digest=digest, status=Mirror.Status.SUCCEEDED).first()
        mirror_id, succeeded = (mirror.id if mirror else None), True
    else:
        mirror = _submit(identity, str(source), target, digest)
        mirror_id, cached, succeeded = mirror.id, mirror.completed, mirror.succeeded
    return MirrorPlan(source, digest, target, mirror, mirror_id, cached, succeeded)
