from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from django.apps import AppConfig

from corecustomers.web.pages.extensions import NavEntry


class ContactConfig(AppConfig):
    name = "corecustomers.web.contact"
    label = "contact"
    verbose_name = "Contact with consent"
    #: Header links (see :mod:`corecustomers.web.pages.extensions`).
    nav_entries: ClassVar[Sequence[NavEntry]] = ()
    #: Templates placed in the pages' slots ("profile", "dashboard").
    panels: ClassVar[Mapping[str, Sequence[str]]] = {}
