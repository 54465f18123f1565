from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_HEX = 12


def new_token() -> str:
    """12 lowercase hex from a secure source (48 bits), never all zeros."""
    while True:
        token = secrets.token_hex(TOKEN_HEX // 2)
        if token.strip("0"):
            return token


class ContainerRequest(models.Model):
    """One container request; its token is a capability for pulling `target_image`."""

    token = models.CharField(max_length=TOKEN_HEX, primary_key=True, default=new_token)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    workspace = models.ForeignKey("accounts.Workspace", null=True, blank=True, on_delete=models.SET_NULL)
    api_token = models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="container_requests",
        help_text="The API token the request came with: revoking it revokes this token (containers/signals.py).",
    )
    org = models.CharField(max_length=255, blank=True, default="", db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True, default="")
    endpoint = models.CharField(max_length=40, help_text="The API endpoint the request came to.")
    request = models.JSONField(help_text="The request body without secrets or inline layer data.")

    container_image = models.CharField(max_length=512, blank=True, default="", help_text="The source image.")
    source_digest = models.CharField(max_length=71, blank=True, default="")
    container_config = models.JSONField(null=True, blank=True)
    platform = models.CharField(max_length=40)
    target_image = models.CharField(max_length=600)
    wave_digest = models.CharField(max_length=71, blank=True, default="", help_text="The augmented digest once served.")
    build = models.ForeignKey("builds.Build", null=True, blank=True, on_delete=models.SET_NULL, related_name="requests")
    freeze = models.BooleanField(default=False)
    cached = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.token

    @property
    def is_live(self) -> bool:
        """Is its token a pull capability? A frozen request's id only follows its status."""
        return not self.freeze and self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
