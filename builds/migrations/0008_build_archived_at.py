from django.db import migrations, models


class Migration(migrations.Migration):
    """Builds' logs and locks move to the object store once they end (builds/archive.py). No data
    migration: the columns stay, so builds ended before this are read from Postgres as before until the
    housekeeper's sweep (`builds.archive.archive_ended_builds`) archives them, a batch a round, and
    `migrate` never needs the store (README, Object storage)."""

    dependencies = [("builds", "0007_storedblob_bytes_in_the_store")]

    operations = [
        migrations.AddField(
            model_name="build", name="archived_at",
            field=models.DateTimeField(blank=True, null=True, help_text="When its log and lock moved to the object store (builds/archive.py)."),
        ),
        migrations.AddIndex(
            model_name="build",
            index=models.Index(condition=models.Q(archived_at__isnull=True), fields=["finished_at"], name="build_not_archived"),
        ),
    ]
