from __future__ import annotations

from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "corecustomers.web.sources"
    label = "sources"
    verbose_name = "Data sources and runs"

    def ready(self) -> None:
        from corecustomers.web.sources.runs import register_jobs

        register_jobs()
