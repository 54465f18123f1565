from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import ApiToken, PlatformAccount, PlatformWorkspace, RegistryCredential, User, Workspace
from builds import blobs
from builds.models import Build, StoredBlob
from containers.models import ContainerRequest, new_token
from metrics.models import PullEvent
from mirrors.models import Mirror
from oci.digest import sha256_digest

BUSYBOX = "localhost/library/busybox:latest"  # a name only: rows made here are never pulled


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


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """An issued token; the plaintext the client sends is on `.plaintext` (only its hash is stored)."""

    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    name = "test"

    @classmethod
    def _create(cls, model_class, user, name, **kwargs):
        token, plaintext = model_class.issue(user, name)
        for field, value in kwargs.items():
            setattr(token, field, value)
        if kwargs:
            token.save(update_fields=list(kwargs))
        token.plaintext = plaintext
        return token


class RegistryCredentialFactory(factory.django.DjangoModelFactory):
    """A credential encrypted as the service stores it; pass `secret` for the password."""

    class Meta:
        model = RegistryCredential

    user = factory.SubFactory(UserFactory)
    registry = "registry.example.com"
    username = factory.Sequence(lambda n: f"robot{n}")

    @classmethod
    def _create(cls, model_class, secret="s3cret", **kwargs):
        credential = model_class(**kwargs)
        credential.set_secret(secret)
        credential.save()
        return credential


class PlatformAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlatformAccount

    user = factory.SubFactory(UserFactory)
    endpoint = "https://api.cloud.seqera.io"
    platform_user_id = factory.Sequence(lambda n: 1000 + n)
    platform_user_name = factory.LazyAttribute(lambda a: a.user.username)


class PlatformWorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlatformWorkspace

    workspace = factory.SubFactory(WorkspaceFactory)
    endpoint = "https://api.cloud.seqera.io"
    platform_workspace_id = factory.Sequence(lambda n: 2000 + n)


class BuildFactory(factory.django.DjangoModelFactory):
    """A build row (nothing runs it): content_hash and id are new for each."""

    class Meta:
        model = Build

    content_hash = factory.LazyFunction(lambda: uuid.uuid4().hex[:16])
    number = 1
    id = factory.LazyAttribute(lambda b: f"{b.content_hash}_{b.number}")
    container_file = "FROM busybox\n"
    platform = "linux/amd64"
    build_repository = "localhost/wave/builds"
    target_image = factory.LazyAttribute(lambda b: f"{b.build_repository}:{b.content_hash}")


class ContainerRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContainerRequest

    token = factory.LazyFunction(new_token)
    endpoint = "test"
    request = factory.LazyFunction(dict)
    platform = "linux/amd64"
    target_image = factory.LazyAttribute(lambda r: f"wt/{r.token}/library/busybox:latest")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))


class PullEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PullEvent

    token = "abc"
    org = "seqera.io"
    image = "localhost/x:1"
    digest = "sha256:" + "0" * 64
    platform = "linux/amd64"


class StoredBlobFactory(factory.django.DjangoModelFactory):
    """A stored layer: `data` in the object store, the row's digest and size those of `data`."""

    class Meta:
        model = StoredBlob

    data = factory.Sequence(lambda n: f"blob {n}".encode())
    digest = factory.LazyAttribute(lambda b: sha256_digest(b.data))

    @classmethod
    def _create(cls, model_class, data: bytes, digest: str, **fields) -> StoredBlob:
        return blobs.put(digest, data, **fields)[0]


class MirrorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mirror

    source_image = BUSYBOX
    target_image = factory.Sequence(lambda n: f"localhost/mirror/busybox{n}:latest")
    digest = "sha256:" + "0" * 64
    platform = "linux/amd64"


def api_token(user: User, name: str = "test") -> str:
    """A new API token for `user`; returns the plaintext the client sends."""
    return ApiTokenFactory(user=user, name=name).plaintext


def registry_credential(registry: str, username: str, secret: str, *, user=None, workspace=None) -> RegistryCredential:
    return RegistryCredentialFactory(registry=registry, username=username, secret=secret, user=user, workspace=workspace)


def pulls(n: int, org: str = "seqera.io", fusion: bool = False, days_ago: int = 0) -> None:
    at = timezone.now() - timedelta(days=days_ago)
    PullEventFactory.create_batch(n, org=org, fusion=fusion, created_at=at)


def build_token(busybox: str, status: str, reason: str = "") -> str:
    """A token whose image is a build that has ended (its end never announced: Redis is away)."""
    build = BuildFactory(
        build_repository=busybox.rsplit(":", 1)[0], target_image=busybox, status=status, reason=reason,
        started_at=timezone.now(), finished_at=timezone.now(),
    )
    return ContainerRequestFactory(build=build, target_image="wt/x/library/busybox:latest").token
