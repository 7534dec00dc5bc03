"""The two default surveys: NPS (0-10) and satisfaction (1-5)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from corecustomers.web.surveys.migrations._defaults import DEFAULTS


def create(apps: Any, schema_editor: Any) -> None:
    survey = apps.get_model("surveys", "Survey")
    for row in DEFAULTS:
        survey.objects.get_or_create(code=row["code"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
