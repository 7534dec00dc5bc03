from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CustomersConfig(AppConfig):
    name = "corecustomers.web.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from corecustomers.web.customers.jobs import register_jobs
        from corecustomers.web.customers.masterdata_jobs import register_masterdata_jobs

        register_jobs()
        register_masterdata_jobs()
        post_migrate.connect(_keep_scope_triggers, sender=self)


def _keep_scope_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """Make the scope-copy and dashboard-cell triggers again after every ``migrate``
    (idempotent): SQLite drops a table's triggers when a later migration rebuilds that
    table."""
    from django.db import connections

    from corecustomers.web.customers import cells
    from corecustomers.web.customers.scope_copy import ensure_triggers

    ensure_triggers(connections[using])
    cells.ensure_triggers(connections[using])
