"""An erasure's cleaning stages still to do, when the request was carried out in full, and
the keyed hash of the erased id (a new request for it finds an unfinished erasure).

Records made before: an export was complete when made; an erasure whose record says how
the database files were cleaned (``details["files"]``) was complete then; one without it
was interrupted after its commit (the fault the stages fix) and gets the stages it can
still do without the person's identifiers (the database files, the suppression file), so
that the next worker or a new request for the same id finishes it.
"""

from typing import Any

from django.db import migrations, models


def _backfill(apps: Any, schema_editor: Any) -> None:
    Fulfilment = apps.get_model("privacy", "Fulfilment")
    for row in Fulfilment.objects.all().iterator():
        if row.kind == "erase" and "files" not in (row.details or {}):
            row.pending = ["suppression_file", "database_files"]
            row.completed = None
        else:
            row.pending = []
            row.completed = row.at
        row.save(update_fields=["pending", "completed"])


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="fulfilment",
            name="pending",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="fulfilment",
            name="completed",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="fulfilment",
            name="id_hash",
            field=models.CharField(blank=True, db_index=True, default="", max_length=64),
        ),
        migrations.RunPython(_backfill, migrations.RunPython.noop),
    ]
