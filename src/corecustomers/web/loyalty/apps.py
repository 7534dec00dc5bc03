from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from corecustomers.web.pages.extensions import NavEntry


class LoyaltyConfig(AppConfig):
    name = "corecustomers.web.loyalty"
    label = "loyalty"
    verbose_name = "Loyalty: points, member levels, clubs and events"
    #: Header links (see :mod:`corecustomers.web.pages.extensions`).
    nav_entries: ClassVar[Sequence[NavEntry]] = (
        NavEntry(
            "loyalty:events",
            _("Events"),
            frozenset({"admin", "manager", "account_manager"}),
            frozenset({"events", "event"}),
        ),
    )
    #: Templates placed in the pages' slots ("profile", "dashboard").
    panels: ClassVar[Mapping[str, Sequence[str]]] = {
        "profile": ["loyalty/_profile_panel.html"],
        "dashboard": ["loyalty/_dashboard_panel.html"],
    }

    def ready(self) -> None:
        from corecustomers.web.loyalty.jobs import connect

        connect()
