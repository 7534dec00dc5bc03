"""Proof of what works: random, stratified hold-out groups for actions and contact plans, and
the uplift report that compares held-out and treated customers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from corecustomers.web.pages.extensions import NavEntry


class ExperimentsConfig(AppConfig):
    name = "corecustomers.web.experiments"
    label = "experiments"
    verbose_name = "Proof of what works"
    #: Header links (see :mod:`corecustomers.web.pages.extensions`).
    nav_entries: ClassVar[Sequence[NavEntry]] = (
        NavEntry(
            "experiments:uplift",
            _("Uplift"),
            frozenset({"admin", "manager", "analyst"}),
            frozenset({"uplift"}),
        ),
    )
    #: Templates placed in the pages' slots ("profile", "dashboard").
    panels: ClassVar[Mapping[str, Sequence[str]]] = {}
    #: My work: a playbook action of a held-out customer is held, with the reason.
    work_item_checks: ClassVar[Sequence[str]] = (
        "corecustomers.web.experiments.holdout.hold_action_items",
    )
