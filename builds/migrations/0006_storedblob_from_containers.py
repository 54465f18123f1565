import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """StoredBlob moves here from containers (containers 0004): state only, the table keeps its name."""

    dependencies = [
        ("builds", "0005_xid"),
        ("containers", "0003_container_request_api_token"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="StoredBlob",
                    fields=[
                        ("digest", models.CharField(max_length=71, primary_key=True, serialize=False)),
                        ("size", models.BigIntegerField()),
                        ("tar_digest", models.CharField(blank=True, default="", help_text="For a layer: its uncompressed digest.", max_length=71)),
                        ("locations", models.JSONField(blank=True, default=list, help_text="URLs this layer was fetched and verified from.")),
                        ("data", models.BinaryField()),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={"db_table": "containers_storedblob"},
                ),
            ],
        ),
    ]
