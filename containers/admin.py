from django.contrib import admin, messages
from django.utils import timezone

from .models import ContainerRequest, StoredBlob
from .tokens import forget_token


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
        forget_token(obj.token)  # the cached record would otherwise keep the token pullable
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for token in queryset.values_list("token", flat=True):
            forget_token(token)
        super().delete_queryset(request, queryset)

    @admin.action(description="Revoke the selected container tokens")
    def revoke(self, request, queryset):
        tokens = list(queryset.filter(revoked_at__isnull=True).values_list("token", flat=True))
        ContainerRequest.objects.filter(token__in=tokens).update(revoked_at=timezone.now())
        for token in tokens:
            forget_token(token)
        messages.info(request, f"Revoked {len(tokens)} container token(s).")


@admin.register(StoredBlob)
class StoredBlobAdmin(admin.ModelAdmin):
    list_display = ("digest", "size", "created_at")
    search_fields = ("digest",)
    exclude = ("data",)
    readonly_fields = ("digest", "size", "created_at")

    def has_add_permission(self, request):
        return False
