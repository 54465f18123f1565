from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import crypto

TOKEN_PREFIX = "wave_"


def org_of(email: str | None) -> str | None:
    """The org of a user is the domain of their email (`alice@seqera.io` -> `seqera.io`)."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


class User(AbstractUser):
    is_org_manager = models.BooleanField(
        default=False, help_text="May read the usage dashboard of their own org (the domain of their email)."
    )

    @property
    def org(self) -> str | None:
        return org_of(self.email)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A `towerAccessToken`. Only a hash is stored; the token is shown once, when it is made."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=plaintext[:12], token_hash=hash_token(plaintext))
        return token, plaintext

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class Workspace(models.Model):
    """A group of users sharing registry credentials: the `towerWorkspaceId` is its id."""

    name = models.CharField(max_length=100)
    members = models.ManyToManyField(User, related_name="workspaces", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"


class RegistryCredential(models.Model):
    """Credentials for one registry, owned by a user or by a workspace; the secret is encrypted."""

    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="registry_credentials")
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="registry_credentials"
    )
    registry = models.CharField(max_length=255, help_text="Registry host[:port], e.g. docker.io or localhost:5000.")
    username = models.CharField(max_length=255)
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, workspace__isnull=True) | Q(user__isnull=True, workspace__isnull=False),
                name="credential_has_one_owner",
            ),
            models.UniqueConstraint(fields=["user", "registry"], name="one_credential_per_user_registry"),
            models.UniqueConstraint(fields=["workspace", "registry"], name="one_credential_per_workspace_registry"),
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.registry}"

    def __repr__(self) -> str:
        return f"<RegistryCredential {self.pk} {self.username}@{self.registry}>"

    def set_secret(self, plaintext: str) -> None:
        self.secret_encrypted = crypto.encrypt(plaintext)

    def get_secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)


class PlatformAccount(models.Model):
    """A local user made for a Seqera Platform user, the first time one of their tokens was accepted."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="platform_account")
    endpoint = models.CharField(max_length=255, help_text="The Platform's API endpoint, as configured.")
    platform_user_id = models.BigIntegerField()
    platform_user_name = models.CharField(max_length=255, help_text="The userName the Platform last gave.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "platform_user_id"], name="one_user_per_platform_user"),
        ]

    def __str__(self) -> str:
        return f"{self.platform_user_name} (#{self.platform_user_id} at {self.endpoint})"


class PlatformWorkspace(models.Model):
    """The local workspace of a Seqera Platform workspace (the `towerWorkspaceId` of its runs)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="platform_workspace")
    endpoint = models.CharField(max_length=255)
    platform_workspace_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "platform_workspace_id"], name="one_workspace_per_platform_workspace"),
        ]

    def __str__(self) -> str:
        return f"#{self.platform_workspace_id} at {self.endpoint}"
