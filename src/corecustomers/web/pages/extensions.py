"""Extension points for the service's later apps (loyalty, contact, surveys, experiments …).

An app adds itself to the pages without editing the shared templates: its ``AppConfig``
may declare

* ``nav_entries`` -- a sequence of :class:`NavEntry`: a link in the header's navigation for
  the roles named (empty: every role);
* ``panels`` -- a mapping of a *slot* (``"profile"``, ``"dashboard"``) to template names,
  rendered in that slot of the page with the page's own context (``p`` on the profile,
  ``data`` on the dashboard, and ``user`` and ``request`` everywhere);
* ``periodic_jobs`` -- a sequence of :class:`PeriodicJob`: a job kind (registered with
  :func:`corecustomers.web.jobs.runner.register`) that the worker's scheduler
  (:mod:`corecustomers.web.sources.schedule`) queues once per due time, e.g. daily at 06:00.

Access is still decided in each panel's own queries (``restrict``); a panel that has
nothing to show for the user renders nothing. On the profile, ``p`` was built for the
page's user, who may therefore see the customer, and ``p.can_change`` says whether they
may change it: a panel takes both from there instead of asking the database again.
"""

from __future__ import annotations

import datetime as dt
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


@dataclass(frozen=True)
class PeriodicJob:
    """A job the scheduler queues once per due time: ``schedule`` is ``"daily"``,
    ``"weekly"`` (``day`` an ISO weekday, 1 = Monday) or ``"monthly"`` (``day`` 1-28), at
    ``at`` in the service's time zone. The job gets ``{"due": <ISO due time>}`` as params."""

    kind: str
    schedule: str = "daily"
    at: dt.time = dt.time(6)
    day: int = 1

    def __post_init__(self) -> None:
        if self.schedule not in {"daily", "weekly", "monthly"}:
            raise ValueError(f"{self.kind}: schedule {self.schedule!r} is not daily/weekly/monthly")
        if self.schedule == "weekly" and not 1 <= self.day <= 7:
            raise ValueError(f"{self.kind}: a weekly job's day is 1 (Monday) to 7")
        if self.schedule == "monthly" and not 1 <= self.day <= 28:
            raise ValueError(f"{self.kind}: a monthly job's day is 1 to 28")


def periodic_jobs() -> Iterator[PeriodicJob]:
    """Every app's periodic jobs, in the order of ``INSTALLED_APPS``."""
    for config in apps.get_app_configs():
        yield from getattr(config, "periodic_jobs", ())
