from django.contrib import admin

from .models import PullEvent


@admin.register(PullEvent)
class PullEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "image", "org", "user", "platform", "fusion", "token")
    list_filter = ("fusion", "platform", "org", "created_at")
    search_fields = ("image", "org", "token", "user__username")
    readonly_fields = [f.name for f in PullEvent._meta.fields]

    def has_add_permission(self, request):
        return False
