"""Extension points for the service's later apps (loyalty, contact, surveys, experiments …).

An app adds itself to the pages without editing the shared templates: its ``AppConfig``
may declare

* ``nav_entries`` -- a sequence of :class:`NavEntry`: a link in the header's navigation for
  the roles named (empty: every role);
* ``panels`` -- a mapping of a *slot* (``"profile"``, ``"dashboard"``) to template names,
  rendered in that slot of the page with the page's own context (``p`` on the profile,
  ``data`` on the dashboard, and ``user`` and ``request`` everywhere).

Access is still decided in each panel's own queries (``restrict``); a panel that has
nothing to show for the user renders nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.apps import apps
from django.utils.functional import Promise

#: The slots a panel may be placed in.
SLOTS = ("profile", "dashboard")


@dataclass(frozen=True)
class NavEntry:
    """A header link: the URL name, its label, and the roles that see it (empty: all)."""

    url_name: str
    label: str | Promise
    roles: frozenset[str] = field(default_factory=frozenset)
    #: URL names (without namespace) under which the link is marked as the current page.
    current: frozenset[str] = field(default_factory=frozenset)

    def visible_to(self, role: str, is_superuser: bool) -> bool:
        return is_superuser or not self.roles or role in self.roles


def nav_entries() -> Iterator[NavEntry]:
    """Every app's extra navigation links, in the order of ``INSTALLED_APPS``."""
    for config in apps.get_app_configs():
        yield from getattr(config, "nav_entries", ())


def panels(slot: str) -> Sequence[str]:
    """The templates every app places in ``slot``, in the order of ``INSTALLED_APPS``."""
    if slot not in SLOTS:
        raise ValueError(f"unknown panel slot {slot!r}; the slots are {', '.join(SLOTS)}")
    found: list[str] = []
    for config in apps.get_app_configs():
        found.extend(getattr(config, "panels", {}).get(slot, ()))
    return found
