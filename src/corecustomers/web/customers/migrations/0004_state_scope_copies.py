"""The customer's region and team copied onto its state, with triggers and indexes.

``CustomerState.scope_region`` / ``scope_team`` mirror the customer's ``region`` /
``team_id`` (database triggers keep them equal, see ``customers/scope_copy.py``), so that a
manager's dashboard and counts read the partial indexes ``state_scope_region`` and
``state_scope_team`` instead of joining every customer. ``history_trend`` serves the
dashboard's core customers per analysis (``as_of, tier``) for a part of the base.
"""

from typing import Any

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import Q

from corecustomers.web.customers import scope_copy

COLUMNS = [
    "run_id",
    "tier",
    "previous_tier",
    "alert",
    "total_spend",
    "clv",
    "value_at_stake",
    "customer",
]


def copy_and_keep(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    scope_copy.backfill(schema_editor.connection)
    scope_copy.ensure_triggers(schema_editor.connection)


def drop(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    scope_copy.drop_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_state_list_and_dashboard_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="customerstate",
            name="scope_region",
            field=models.CharField(blank=True, db_default="", default="", max_length=100),
        ),
        migrations.AddField(
            model_name="customerstate",
            name="scope_team",
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.RunPython(copy_and_keep, drop),
        migrations.AddIndex(
            model_name="customerstate",
            index=models.Index(
                fields=["scope_region", *COLUMNS],
                condition=~Q(scope_region=""),
                name="state_scope_region",
            ),
        ),
        migrations.AddIndex(
            model_name="customerstate",
            index=models.Index(
                fields=["scope_team", "scope_region", *COLUMNS],
                condition=Q(scope_team__isnull=False),
                name="state_scope_team",
            ),
        ),
        migrations.AddIndex(
            model_name="customerhistory",
            index=models.Index(fields=["as_of", "tier", "customer"], name="history_trend"),
        ),
    ]
