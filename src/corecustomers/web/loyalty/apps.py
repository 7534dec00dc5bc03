from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from django.apps import AppConfig

from corecustomers.web.pages.extensions import NavEntry


class LoyaltyConfig(AppConfig):
    name = "corecustomers.web.loyalty"
    label = "loyalty"
    verbose_name = "Loyalty: points, member levels, clubs and events"
    #: Header links (see :mod:`corecustomers.web.pages.extensions`).
    nav_entries: ClassVar[Sequence[NavEntry]] = ()
    #: Templates placed in the pages' slots ("profile", "dashboard").
    panels: ClassVar[Mapping[str, Sequence[str]]] = {}

    def ready(self) -> None:
        from corecustomers.web.loyalty.jobs import connect

        connect()
