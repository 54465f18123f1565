from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from wave_site.xid import TransactionId


# Read only where they are shown: a log can take megabytes, and status reads are frequent.
LARGE_FIELDS = ("log", "condalock", "condalock_yaml", "log_times")


def without_large_fields(prefix: str = "") -> list[str]:
    """For `.defer(...)`: the large fields of a build, or of a related build with `prefix="build__"`."""
    return [prefix + name for name in LARGE_FIELDS]


class Build(models.Model):
    """One build of one content hash; `<hash>_<n>` counts the attempts of that hash."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"

    class Format(models.TextChoices):
        DOCKER = "docker"
        SIF = "sif"

    id = models.CharField(max_length=40, primary_key=True)
    content_hash = models.CharField(max_length=16, db_index=True)
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)

    container_file = models.TextField(help_text="The recipe the builder runs (a Dockerfile).")
    conda_file = models.TextField(blank=True, default="")
    platform = models.CharField(max_length=40)
    build_repository = models.CharField(max_length=255)
    cache_repository = models.CharField(max_length=255, blank=True, default="")
    target_image = models.CharField(max_length=512, help_text="Where the image is pushed.")
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.DOCKER)
    freeze = models.BooleanField(default=False)
    from_registry = models.BooleanField(default=False, help_text="Found already built in the registry: nothing ran.")
    context = models.JSONField(default=dict, blank=True, help_text="Build inputs besides the recipe.")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    workspace = models.ForeignKey("accounts.Workspace", null=True, blank=True, on_delete=models.SET_NULL)
    org = models.CharField(max_length=255, blank=True, default="", db_index=True)

    timeout = models.PositiveIntegerField(default=900, help_text="Seconds the build may run.")
    worker = models.CharField(max_length=255, blank=True, default="", help_text="host:pid of the worker running it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from its worker.")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The inserting transaction: where the usage counters' cursor is (metrics/counters.py).
    xid = models.BigIntegerField(db_default=TransactionId(), editable=False, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_status = models.IntegerField(null=True, blank=True)
    digest = models.CharField(max_length=71, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    log = models.TextField(blank=True, default="")
    condalock = models.TextField(blank=True, default="", help_text="The @EXPLICIT lock of a conda build.")
    condalock_yaml = models.TextField(blank=True, default="", help_text="The same lock in conda-lock YAML.")
    archived_at = models.DateTimeField(
        null=True, blank=True, help_text="When its log and lock moved to the object store (builds/archive.py).",
    )
    public_reason = models.TextField(
        blank=True, default="",
        help_text="The reason without the lines of its log it quotes: what whoever may not read the log is shown.",
    )
    log_times = models.JSONField(
        default=list, blank=True,
        help_text="When the worker read its log's lines: [[character offset, unix seconds], ...], one mark a second at most (builds/logs.py).",
    )
    steps = models.JSONField(
        default=list, blank=True,
        help_text="The builder's `STEP n/m` lines and when the worker read each: [{\"step\": \"1/2: FROM ...\", \"at\": unix seconds}].",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["content_hash", "number"], name="one_build_per_hash_number")]
        # The archive sweep's look-up: only the few builds not archived yet are in it.
        indexes = [models.Index(fields=["finished_at"], condition=models.Q(archived_at__isnull=True), name="build_not_archived")]

    def __str__(self) -> str:
        return self.id

    @property
    def completed(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def api_status(self) -> str:
        """What the reference's API calls it: PENDING until the build ends, then COMPLETED."""
        return "COMPLETED" if self.completed else "PENDING"

    @property
    def succeeded(self) -> bool | None:
        return self.status == self.Status.SUCCEEDED if self.completed else None

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class StoredBlob(models.Model):
    """Blobs the service serves itself: added layers and rewritten configs (shared by every web process),
    and the layers and contexts builds read. The row is the index; the bytes are in the object store
    (`builds.blobs`). Here, below containers, so the build worker reads them
    without importing containers; the table keeps its name (migrations 0006 here, containers 0004)."""

    digest = models.CharField(max_length=71, primary_key=True)
    size = models.BigIntegerField()
    tar_digest = models.CharField(max_length=71, blank=True, default="", help_text="For a layer: its uncompressed digest.")
    locations = models.JSONField(default=list, blank=True, help_text="URLs this layer was fetched and verified from.")
    key = models.CharField(max_length=255, unique=True, help_text="Where its bytes are in the object store.")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.digest

    class Meta:
        db_table = "containers_storedblob"
