from django.contrib import admin, messages

from wave_site.storage import Unreachable

from .archive import TEXTS, delete_stored, lock_text, log_text
from .blobs import delete_keys
from .models import Build, StoredBlob
from .services import retry_build


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "target_image", "platform", "org", "user", "created_at", "finished_at")
    list_filter = ("status", "format", "freeze", "platform", "org", "created_at")
    search_fields = ("id", "target_image", "org", "user__username")
    # The log and lock through the one reader (builds/archive.py): an archived build's columns are empty.
    # The log's time marks are for the build page, not to read.
    exclude = ("log_times",)
    readonly_fields = [f.name for f in Build._meta.fields if f.name not in TEXTS and f.name != "log_times"] + ["build_log", "conda_lock", "conda_lock_yaml"]
    actions = ["retry"]

    @admin.display(description="log")
    def build_log(self, obj):
        return _readable(log_text, obj)

    @admin.display(description="conda lock")
    def conda_lock(self, obj):
        return _readable(lock_text, obj, "explicit")

    @admin.display(description="conda lock (YAML)")
    def conda_lock_yaml(self, obj):
        return _readable(lock_text, obj, "yaml")

    # A build's objects in the store go with its row; a store that is down leaves them, said so.
    def delete_model(self, request, obj):
        build_id = obj.pk  # None once deleted
        super().delete_model(request, obj)
        _delete_stored(request, [build_id])

    def delete_queryset(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        _delete_stored(request, ids)

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


def _readable(read, *args) -> str:
    try:
        return read(*args)
    except Unreachable as exc:
        return f"Unavailable: {exc}"


def _delete_stored(request, build_ids: list[str]) -> None:
    try:
        delete_stored(build_ids)
    except Unreachable as exc:
        messages.warning(request, f"The builds' objects stay in the store (builds/<id>/…): {exc}")
