from django.contrib import admin

from .models import Mirror


@admin.register(Mirror)
class MirrorAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "source_image", "target_image", "org", "user", "created_at", "finished_at")
    list_filter = ("status", "org", "created_at")
    search_fields = ("id", "source_image", "target_image", "digest", "org", "user__username")
    readonly_fields = [f.name for f in Mirror._meta.fields]
    exclude = ("requests",)

    def has_add_permission(self, request):
        return False
