"""Uploads keep their staging state in the database (issue 18): with object storage the chunks go
to an S3 multipart upload whose id, parts and small pending chunks are recorded on the row, so any
web replica takes any chunk. Existing uploads stage in the local folder as before: empty values."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("builder", "0012_models_for_succeeded_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="multipart_id",
            field=models.CharField(blank=True, default="", max_length=1024),
        ),
        migrations.AddField(
            model_name="upload",
            name="parts",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="upload",
            name="pending",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
