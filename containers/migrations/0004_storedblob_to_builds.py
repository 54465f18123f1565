from django.db import migrations


class Migration(migrations.Migration):
    """StoredBlob is now builds' model (builds 0006): only the state moves, the table stays."""

    dependencies = [
        ("containers", "0003_container_request_api_token"),
        ("builds", "0006_storedblob_from_containers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="StoredBlob")]),
    ]
