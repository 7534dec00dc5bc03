from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import ClassVar

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from corecustomers.web.pages.extensions import NavEntry, PeriodicJob


class ContactConfig(AppConfig):
    name = "corecustomers.web.contact"
    label = "contact"
    verbose_name = "Contact with consent"
    #: Header links (see :mod:`corecustomers.web.pages.extensions`).
    nav_entries: ClassVar[Sequence[NavEntry]] = (
        NavEntry(
            "contact:outbox",
            _("Outbox"),
            frozenset({"admin", "manager", "account_manager"}),
            frozenset({"outbox"}),
        ),
        NavEntry(
            "contact:care-settings",
            _("Contact settings"),
            frozenset({"admin"}),
            frozenset({"care-settings"}),
        ),
    )
    #: Templates placed in the pages' slots ("profile", "dashboard").
    panels: ClassVar[Mapping[str, Sequence[str]]] = {"profile": ["contact/_profile_panel.html"]}
    #: My work: care days and contact plans, and the consent and budget check of their items.
    work_item_providers: ClassVar[Sequence[str]] = ("corecustomers.web.contact.care.work_items",)
    work_item_checks: ClassVar[Sequence[str]] = ("corecustomers.web.contact.care.hold_items",)
    #: The names of the item kinds this app adds to My work.
    work_item_kinds: ClassVar[Mapping[str, object]] = {
        "care": _("Care day"),
        "plan": _("Contact plan"),
    }
    #: Daily at 06:00, queued by the worker's scheduler: the care messages of the care days
    #: now due to be planned, and the contact plans' messages (see :mod:`.delivery`).
    periodic_jobs: ClassVar[Sequence[PeriodicJob]] = (
        PeriodicJob("plan_care_messages", "daily", dt.time(6)),
        PeriodicJob("plan_contact_messages", "daily", dt.time(6)),
    )

    def ready(self) -> None:
        from corecustomers.web.contact.delivery import connect

        connect()
