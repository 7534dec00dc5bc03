from __future__ import annotations

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "corecustomers.web.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from corecustomers.web.customers.jobs import register_jobs
        from corecustomers.web.customers.masterdata_jobs import register_masterdata_jobs

        register_jobs()
        register_masterdata_jobs()
