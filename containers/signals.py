"""Container tokens die with the user or API token they were issued to.

Deactivating or deleting a user, or revoking or deleting an API token, revokes the live container
tokens issued under it (with tombstones, at once; see `tokens.revoke`). We chose this over letting
them pull on with the owner's stored credentials: whoever holds a token would otherwise keep reading
a departed user's private images for up to WAVE_TOKEN_LIFETIME. Changes that bypass these signals
(a bulk `update()`, SQL) are caught when the cached record is next read from Postgres, within
WAVE_TOKEN_RECHECK seconds. Re-activating a user does not bring revoked tokens back.
"""

from __future__ import annotations

from django.db.models import Q
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import ApiToken, User
from wave_site.redis import ERRORS, unavailable

from .models import ContainerRequest
from .tokens import revoke

def _revoke_live(**owner) -> None:
    live = ContainerRequest.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()), freeze=False, **owner)
    try:
        revoke(live)
    except ERRORS as exc:  # no tombstones: revoked in Postgres, cached records expire within WAVE_TOKEN_RECHECK
        unavailable("token", exc)
        live.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@receiver(post_save, sender=User, dispatch_uid="containers.user_deactivated")
def user_deactivated(sender, instance: User, **kwargs) -> None:
    if not instance.is_active:
        _revoke_live(user=instance)


@receiver(pre_delete, sender=User, dispatch_uid="containers.user_deleted")
def user_deleted(sender, instance: User, **kwargs) -> None:
    _revoke_live(user=instance)


@receiver(post_save, sender=ApiToken, dispatch_uid="containers.api_token_revoked")
def api_token_revoked(sender, instance: ApiToken, **kwargs) -> None:
    if instance.revoked_at is not None:
        _revoke_live(api_token=instance)


@receiver(pre_delete, sender=ApiToken, dispatch_uid="containers.api_token_deleted")
def api_token_deleted(sender, instance: ApiToken, **kwargs) -> None:
    _revoke_live(api_token=instance)
