from __future__ import annotations

import factory

from accounts.models import ApiToken, RegistryCredential, User, Workspace


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
