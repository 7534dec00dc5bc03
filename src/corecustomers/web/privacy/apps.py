from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import ClassVar

from django.apps import AppConfig

from corecustomers.web.pages.extensions import PeriodicJob


class PrivacyConfig(AppConfig):
    """Export and erasure of one customer's data (PIPL / GDPR).

    ``personal_fields`` -- the rule every app follows to say which fields erasure blanks:
    an app's ``AppConfig`` may declare ``personal_fields = {"app_label.Model": [field, …]}``
    (see :mod:`corecustomers.web.privacy.registry`). This app declares them for the core
    apps (customers, work) whose configs predate the rule; an app's own declaration wins.
    """

    name = "corecustomers.web.privacy"
    label = "privacy"
    verbose_name = "Privacy: export and erasure of a customer's data"
    default_auto_field = "django.db.models.BigAutoField"
    personal_fields: ClassVar[Mapping[str, Sequence[str]]] = {
        "customers.Customer": ["name", "company", "phone", "email", "birthday", "notes"],
        "customers.TierOverride": ["reason"],
        "work.Interaction": ["notes", "next_step"],
        "work.Alert": ["note", "sla_note"],
        "work.FollowUp": ["reason"],
    }
    #: Daily at 03:00, queued by the worker's scheduler: the retention rules (:mod:`.retention`).
    periodic_jobs: ClassVar[Sequence[PeriodicJob]] = (
        PeriodicJob("privacy_retention", "daily", dt.time(3)),
    )

    def ready(self) -> None:
        from corecustomers.web.privacy import finish, retention

        retention.connect()
        finish.connect()
