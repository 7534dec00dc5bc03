"""The dashboard's per-analysis aggregates (``cells.py``): two small tables, a status row,
the triggers that keep them true, and a first build from the states already loaded."""

from typing import Any

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from corecustomers.web.customers import cells


def build(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {cells.STATUS} (id, stale) VALUES (1, %s)", [True])
    cells.ensure_triggers(connection)
    with connection.cursor() as cursor:
        for statement in cells._REBUILD:
            cursor.execute(statement)
        cursor.execute(f"UPDATE {cells.STATUS} SET stale = %s WHERE id = 1", [False])


def drop(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    cells.drop_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_state_scope_copies"),
    ]

    operations = [
        migrations.CreateModel(
            name="DashboardCell",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("run_id", models.CharField(max_length=64)),
                ("scope_region", models.CharField(blank=True, default="", max_length=100)),
                ("scope_team", models.IntegerField(blank=True, null=True)),
                ("tier", models.CharField(max_length=40)),
                ("previous_tier", models.CharField(blank=True, default="", max_length=40)),
                ("n", models.IntegerField(default=0)),
                ("revenue", models.FloatField(null=True)),
                ("clv", models.FloatField(null=True)),
                ("alerts", models.IntegerField(default=0)),
                ("stake", models.FloatField(null=True)),
                ("owned", models.IntegerField(default=0)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["run_id", "tier", "previous_tier"], name="cell_run_tier")
                ],
            },
        ),
        migrations.CreateModel(
            name="TrendCell",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("as_of", models.DateField()),
                ("scope_region", models.CharField(blank=True, default="", max_length=100)),
                ("scope_team", models.IntegerField(blank=True, null=True)),
                ("tier", models.CharField(max_length=40)),
                ("n", models.IntegerField(default=0)),
            ],
            options={
                "indexes": [models.Index(fields=["as_of", "tier"], name="trend_cell_date_tier")],
            },
        ),
        migrations.CreateModel(
            name="DashboardCellStatus",
            fields=[
                ("id", models.IntegerField(primary_key=True, serialize=False)),
                ("stale", models.BooleanField(default=True)),
            ],
        ),
        migrations.RunPython(build, drop),
    ]
