"""Indexes for the customer list's orders and the dashboard's aggregates (1M customers).

``state_core_desc`` and ``state_tier_alert_stake`` follow the list's orders (``… DESC
NULLS LAST, customer``), so that its first page is read from an index instead of sorting
every matching customer. SQLite cannot say ``NULLS LAST`` in an index, and puts nulls last
in a descending order anyway, so there the same indexes are plain ``DESC``.
"""

from typing import Any

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

SORT_INDEXES = {
    "state_core_desc": ("core_score {desc}", "customer_id"),
    "state_tier_alert_stake": ("tier", "alert", "value_at_stake {desc}", "customer_id"),
}


def create_sort_indexes(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    desc = "DESC NULLS LAST" if schema_editor.connection.vendor == "postgresql" else "DESC"
    quote = schema_editor.quote_name
    for name, columns in SORT_INDEXES.items():
        parts = []
        for column in columns:
            field, _, order = column.partition(" ")
            parts.append(f"{quote(field)} {order.format(desc=desc)}".strip())
        schema_editor.execute(
            f"CREATE INDEX {quote(name)} ON {quote('customers_customerstate')} ({', '.join(parts)})"
        )


def drop_sort_indexes(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    for name in SORT_INDEXES:
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_customerstate_alert_code"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customerstate",
            index=models.Index(
                fields=["run_id", "tier", "previous_tier", "alert"],
                include=("customer", "total_spend", "clv", "value_at_stake"),
                name="state_dashboard",
            ),
        ),
        migrations.RunPython(create_sort_indexes, drop_sort_indexes),
    ]
