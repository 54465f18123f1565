from django.contrib import admin, messages

from wave_site.redis import ERRORS as REDIS_ERRORS

from .models import ContainerRequest
from .tokens import bury_token, revoke


@admin.register(ContainerRequest)
class ContainerRequestAdmin(admin.ModelAdmin):
    list_display = ("token", "target_image", "user", "org", "ip_address", "created_at", "expires_at", "revoked_at")
    list_filter = ("endpoint", "freeze", "cached", ("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("token", "container_image", "target_image", "user__username", "org", "source_digest")
    readonly_fields = [f.name for f in ContainerRequest._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        bury_token(obj.token, obj.expires_at)  # the cached record would otherwise keep the token pullable
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for token, expires_at in queryset.values_list("token", "expires_at"):
            bury_token(token, expires_at)
        super().delete_queryset(request, queryset)

    @admin.action(description="Revoke the selected container tokens")
    def revoke(self, request, queryset):
        try:
            tokens = revoke(queryset)
        except REDIS_ERRORS as exc:
            messages.error(request, f"No token was revoked: Redis is unavailable ({exc}); try again.")
            return
        messages.info(request, f"Revoked {len(tokens)} container token(s).")
