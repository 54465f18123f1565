from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from wave_site.xid import TransactionId


class PullEvent(models.Model):
    """One manifest GET that returned a single-image manifest through the proxy."""

    token = models.CharField(max_length=12, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    org = models.CharField(max_length=255, blank=True, default="", db_index=True)
    image = models.CharField(max_length=600)
    digest = models.CharField(max_length=71)
    platform = models.CharField(max_length=40)
    fusion = models.BooleanField(default=False)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The inserting transaction: where the usage counters' cursor is (metrics/counters.py).
    xid = models.BigIntegerField(db_default=TransactionId(), editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("view_usage_metrics", "Can read the usage metrics API and dashboards")]

    def __str__(self) -> str:
        return f"{self.image} by {self.org or 'anonymous'} at {self.created_at:%Y-%m-%d %H:%M}"
