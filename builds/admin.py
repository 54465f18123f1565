from django.contrib import admin, messages

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
    exclude = ("data",)
    readonly_fields = ("digest", "size", "created_at")

    def has_add_permission(self, request):
        return False
