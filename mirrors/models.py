"""A mirror: one copy of an image (every platform, by digest) into the caller's own repository."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

ID_PREFIX = "mr-"


def new_mirror_id() -> str:
    """`mr-` and 12 lowercase hex, as Wave makes them."""
    return ID_PREFIX + secrets.token_hex(6)


class Mirror(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"

    ACTIVE = (Status.PENDING, Status.RUNNING)

    id = models.CharField(max_length=15, primary_key=True, default=new_mirror_id)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    source_image = models.CharField(max_length=512)
    target_image = models.CharField(max_length=600, db_index=True)
    digest = models.CharField(max_length=71, help_text="The source's digest when requested; the copy is of exactly it.")
    platform = models.CharField(max_length=255, blank=True, default="", help_text="The platforms copied.")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    workspace = models.ForeignKey("accounts.Workspace", null=True, blank=True, on_delete=models.SET_NULL)
    org = models.CharField(max_length=255, blank=True, default="", db_index=True)
    requests = models.ManyToManyField("containers.ContainerRequest", blank=True, related_name="mirrors")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    log = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Concurrent requests for one target agree on one copy (Wave's putIfAbsent on the target).
            models.UniqueConstraint(
                fields=["target_image"], condition=models.Q(status__in=["PENDING", "RUNNING"]), name="one_active_mirror_per_target"
            )
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def completed(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def succeeded(self) -> bool | None:
        return self.status == self.Status.SUCCEEDED if self.completed else None

    @property
    def duration(self) -> float | None:
        return (self.finished_at - self.created_at).total_seconds() if self.finished_at else None
