import uuid

from django.db import migrations, models


def to_store(apps, schema_editor):
    """Each row's bytes go to the object store under a key of its own, one row at a time (never the
    whole table in memory). A store that is down fails the migration, which changes nothing then."""
    from wave_site.storage import store

    StoredBlob = apps.get_model("builds", "StoredBlob")
    for digest in StoredBlob.objects.filter(key__isnull=True).values_list("digest", flat=True).iterator():
        key = f"blobs/{digest.replace(':', '/')}/{uuid.uuid4().hex}"
        store().put_bytes(key, bytes(StoredBlob.objects.only("data").get(digest=digest).data))
        StoredBlob.objects.filter(digest=digest).update(key=key)


def from_store(apps, schema_editor):
    """Back into Postgres (the store keeps its copy: delete it by hand once the rollback holds)."""
    from wave_site.storage import store

    StoredBlob = apps.get_model("builds", "StoredBlob")
    for digest, key in StoredBlob.objects.values_list("digest", "key").iterator():
        StoredBlob.objects.filter(digest=digest).update(data=store().read_bytes(key))


class Migration(migrations.Migration):
    """StoredBlob keeps the index (digest, size, stamp); its bytes move to the object store (README,
    Object storage). Reversible: the reverse reads every blob back from the store."""

    dependencies = [("builds", "0006_storedblob_from_containers")]

    operations = [
        migrations.AddField(
            model_name="storedblob", name="key", field=models.CharField(max_length=255, null=True, unique=True),
        ),
        # Nullable while it goes, so that the reverse can add it back empty and fill it.
        migrations.AlterField(model_name="storedblob", name="data", field=models.BinaryField(null=True)),
        migrations.RunPython(to_store, from_store),
        migrations.AlterField(
            model_name="storedblob", name="key",
            field=models.CharField(max_length=255, unique=True, help_text="Where its bytes are in the object store."),
        ),
        migrations.RemoveField(model_name="storedblob", name="data"),
    ]
