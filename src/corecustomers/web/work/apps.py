from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from corecustomers.web.pages.extensions import NavEntry


class WorkConfig(AppConfig):
    name = "corecustomers.web.work"
    label = "work"
    verbose_name = "The account team's day"
    #: Header links (see :mod:`corecustomers.web.pages.extensions`).
    nav_entries: ClassVar[Sequence[NavEntry]] = (
        NavEntry(
            "pages:work-assign",
            _("Assign"),
            roles=frozenset({"admin", "manager"}),
            current=frozenset({"work-assign"}),
        ),
    )

    def ready(self) -> None:
        from corecustomers.web.work.jobs import connect

        connect()
