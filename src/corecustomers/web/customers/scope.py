"""A user's customers as conditions on their analysis states, for counts and aggregates.

``Customer.objects.restrict(user)`` is the one rule of who sees which customer; every
list starts from it. Counts and aggregates over the *states* of a part of the base
(a manager's dashboard, a filtered list's count) would have to join it with every
customer. :func:`state_scope` says the same scope on the state instead:

* ``None`` -- the user reaches every customer: no condition at all;
* a list of :class:`StatePart` -- disjoint parts whose union is exactly the customers
  ``restrict`` gives (an empty list: none). A manager's scope (``team IN T OR region IN
  R``) becomes ``region IN R`` and ``team IN T AND region NOT IN R``, each read from one
  partial index of the state's copies of the customer's region and team (kept equal to
  the customer by database triggers, :mod:`corecustomers.web.customers.scope_copy`), so
  that no OR forces a scan (the second part is split into ranges of regions between
  those of R, see :func:`_between`); any other role is one part, ``customer IN
  restrict(...)``.

Sums and counts over disjoint parts add up; callers run one query per part.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from corecustomers.web.access import Action, reaches_everything
from corecustomers.web.customers.models import Customer, CustomerState, manager_reach

__all__ = ["StatePart", "state_scope"]


@dataclass(frozen=True)
class StatePart:
    """One part of a scope: ``condition`` on :class:`CustomerState`."""

    condition: Q

    def states(self) -> QuerySet[CustomerState]:
        return CustomerState.objects.filter(self.condition)

    def customer_ids(self) -> QuerySet[Any]:
        """The part's customers with a state, as a sub-query of customer keys."""
        return self.states().values("customer_id")


def _between(regions: list[str]) -> list[Q]:
    """Conditions for every region *except* ``regions``, as ranges between them.

    ``region NOT IN (…)`` would make the team's part read every entry of the team in the
    index and drop those of the regions (all 100k of them when a team's customers are in
    its region); ranges are read from the index directly. The regions are ordered by the
    database, so that the ranges follow its collation.
    """
    if not regions:
        return [Q()]
    with connection.cursor() as cursor:
        values = " UNION ALL ".join(["SELECT %s AS r"] * len(regions))
        cursor.execute(f"SELECT r FROM ({values}) v ORDER BY r", regions)
        ordered = [row[0] for row in cursor.fetchall()]
    gaps = [Q(scope_region__lt=ordered[0])]
    gaps += [Q(scope_region__gt=a, scope_region__lt=b) for a, b in pairwise(ordered)]
    gaps.append(Q(scope_region__gt=ordered[-1]))
    return gaps


def state_scope(user: Any, action: Action = "view") -> list[StatePart] | None:
    """The customers ``user`` reaches for ``action``, as disjoint conditions on states."""
    if reaches_everything(Customer, user, action):
        return None
    active = bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)
    if active and getattr(user, "role", "") == "manager" and action != "admin":
        team_ids, regions = manager_reach(user)
        parts = []
        # The conditions of the partial indexes are written out so that SQLite uses them.
        if regions:
            parts.append(StatePart(Q(scope_region__in=regions) & ~Q(scope_region="")))
        if team_ids:
            in_team = Q(scope_team__in=team_ids) & Q(scope_team__isnull=False)
            parts += [StatePart(in_team & gap) for gap in _between(regions)]
        return parts
    customers = Customer.objects.restrict(user, action)  # type: ignore[arg-type]
    return [StatePart(Q(customer__in=customers.values("pk")))]
