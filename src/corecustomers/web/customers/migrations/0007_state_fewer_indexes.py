"""Five indexes of the state that no query needs, dropped: every state row written (each
import writes all of them, a change of region or team rewrites the customer's) fed 19.

* ``tier`` and ``alert`` alone: each is the first column of a composite index that serves
  the same filters (``tier, core_score`` and ``state_tier_alert_stake``; ``alert,
  value_at_stake``);
* PostgreSQL's ``varchar_pattern_ops`` copies of ``tier``, ``rfm_segment`` and
  ``abc_class`` (made by ``db_index=True`` on a text column): they serve only ``LIKE
  'x%'``, and those columns are only compared for equality. ``rfm_segment`` and
  ``abc_class`` keep their plain index (``db_index=True`` stays on the fields, so the
  model state does not change for them).
"""

from typing import Any

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

TABLE = "customers_customerstate"
#: index name -> (column, PostgreSQL only, with ``varchar_pattern_ops``)
DROPPED = {
    "customers_customerstate_tier_8c471461": ("tier", False, False),
    "customers_customerstate_tier_8c471461_like": ("tier", True, True),
    "customers_customerstate_alert_3e22ff12": ("alert", False, False),
    "customers_customerstate_rfm_segment_3eb13b23_like": ("rfm_segment", True, True),
    "customers_customerstate_abc_class_da668213_like": ("abc_class", True, True),
}


def drop(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    pg = schema_editor.connection.vendor == "postgresql"
    for name, (_, pg_only, _) in DROPPED.items():
        if pg or not pg_only:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    pg = schema_editor.connection.vendor == "postgresql"
    quote = schema_editor.quote_name
    for name, (column, pg_only, pattern) in DROPPED.items():
        if pg or not pg_only:
            ops = " varchar_pattern_ops" if pattern else ""
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(TABLE)} ({quote(column)}{ops})"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0006_state_scope_region_spend"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customerstate",
                    name="tier",
                    field=models.CharField(max_length=40),
                ),
                migrations.AlterField(
                    model_name="customerstate",
                    name="alert",
                    field=models.BooleanField(default=False),
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]
