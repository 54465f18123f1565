from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import ApiToken, RegistryCredential, User, Workspace
from builds.models import Build
from containers.models import ContainerRequest
from metrics.models import PullEvent


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@seqera.io")
    password = factory.django.Password("password")


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"workspace{n}")


def api_token(user: User, name: str = "test") -> str:
    """A new API token for `user`; returns the plaintext the client sends."""
    return ApiToken.issue(user, name)[1]


def registry_credential(registry: str, username: str, secret: str, *, user=None, workspace=None) -> RegistryCredential:
    credential = RegistryCredential(registry=registry, username=username, user=user, workspace=workspace)
    credential.set_secret(secret)
    credential.save()
    return credential


def pulls(n: int, org: str = "seqera.io", fusion: bool = False, days_ago: int = 0) -> None:
    at = timezone.now() - timedelta(days=days_ago)
    PullEvent.objects.bulk_create(
        PullEvent(token="abc", org=org, image="localhost/x:1", digest="sha256:" + "0" * 64, platform="linux/amd64",
                  fusion=fusion, created_at=at)
        for _ in range(n)
    )


def build_token(busybox: str, status: str, reason: str = "") -> str:
    """A token whose image is a build that has ended (its end never announced: Redis is away)."""
    content_hash = uuid.uuid4().hex[:16]
    build = Build.objects.create(
        id=f"{content_hash}_1", content_hash=content_hash, number=1, container_file="FROM busybox", platform="linux/amd64",
        build_repository=busybox.rsplit(":", 1)[0], target_image=busybox, status=status, reason=reason,
        started_at=timezone.now(), finished_at=timezone.now(),
    )
    request = ContainerRequest.objects.create(
        endpoint="test", request={}, platform="linux/amd64", target_image="wt/x/library/busybox:latest", build=build,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    return request.token
