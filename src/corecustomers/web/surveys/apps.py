"""Surveys and follow-up (满意度调查, 回访): NPS and satisfaction, by link or by call, and the
alerts a detractor among core customers raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from corecustomers.web.pages.extensions import NavEntry


class SurveysConfig(AppConfig):
    name = "corecustomers.web.surveys"
    label = "surveys"
    verbose_name = "Surveys and follow-up"
    #: Header links (see :mod:`corecustomers.web.pages.extensions`).
    nav_entries: ClassVar[Sequence[NavEntry]] = (
        NavEntry(
            "surveys:follow-ups",
            _("Follow-ups"),
            frozenset({"admin", "manager", "account_manager"}),
            frozenset({"follow-ups"}),
        ),
    )
    #: Templates placed in the pages' slots ("profile", "dashboard").
    panels: ClassVar[Mapping[str, Sequence[str]]] = {
        "profile": ["surveys/_profile_panel.html"],
        "dashboard": ["surveys/_dashboard_panel.html"],
    }

    def ready(self) -> None:
        from corecustomers.web.surveys.jobs import connect

        connect()
