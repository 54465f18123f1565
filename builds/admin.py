from django.contrib import admin

from .models import Build


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "target_image", "platform", "org", "user", "created_at", "finished_at")
    list_filter = ("status", "format", "freeze", "platform", "org", "created_at")
    search_fields = ("id", "target_image", "org", "user__username")
    readonly_fields = [f.name for f in Build._meta.fields]

    def has_add_permission(self, request):
        return False
