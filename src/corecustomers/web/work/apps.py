from __future__ import annotations

from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "corecustomers.web.work"
    label = "work"
    verbose_name = "The account team's day"

    def ready(self) -> None:
        from corecustomers.web.work.jobs import connect

        connect()
