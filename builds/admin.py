from django.contrib import admin, messages

from .blobs import delete_keys
from .models import Build, StoredBlob
from .services import retry_build


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "target_image", "platform", "org", "user", "created_at", "finished_at")
    list_filter = ("status", "format", "freeze", "platform", "org", "created_at")
    search_fields = ("id", "target_image", "org", "user__username")
    readonly_fields = [f.name for f in Build._meta.fields]
    actions = ["retry"]

    @admin.action(description="Retry the selected failed builds")
    def retry(self, request, queryset):
        retried = [b.id for b in (retry_build(build) for build in queryset.filter(status=Build.Status.FAILED)) if b]
        messages.info(request, f"Queued {len(retried)} new build(s): {', '.join(retried) or 'none'}.")

    def has_add_permission(self, request):
        return False


@admin.register(StoredBlob)
class StoredBlobAdmin(admin.ModelAdmin):
    list_display = ("digest", "size", "created_at")
    search_fields = ("digest",)
    readonly_fields = ("digest", "size", "key", "created_at")

    def has_add_permission(self, request):
        return False

    # The bytes go with the row (builds.blobs).
    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        delete_keys([obj.key])

    def delete_queryset(self, request, queryset):
        keys = list(queryset.values_list("key", flat=True))
        super().delete_queryset(request, queryset)
        delete_keys(keys)
