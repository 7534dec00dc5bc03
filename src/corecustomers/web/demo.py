"""The demo service: the demo analysis and master data loaded, people and their books.

:func:`set_up_demo` is what ``corecustomers demo --serve`` does once the demo analysis is
written: it imports the analysis and the demo customers' master data, and creates

* ``admin`` (administrator);
* ``manager`` -- leads team *East*, which covers region 华东: sees the East customers;
* ``am1`` (team *East*) and ``am2`` (team *North*, region 华北) -- account managers, each
  the owner on the account team of a different set of core customers of their region:
  first the ones with an open alert and a due next-best action, then other core
  customers, up to ``book_size``;
* ``analyst`` -- aggregates and pseudonymised rows only.

Running it again in the same folder loads the new run (same date: the history points of
that date are replaced), sets new passwords and keeps the same books.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from django.db import transaction

from corecustomers.web.accounts.models import Team, User
from corecustomers.web.accounts.users import create_or_update_user
from corecustomers.web.audit.context import Actor, acting
from corecustomers.web.audit.log import record
from corecustomers.web.customers.analysis_import import import_analysis
from corecustomers.web.customers.masterdata import import_master_data
from corecustomers.web.customers.models import AccountMember, Customer, CustomerState

__all__ = ["DEMO_USERS", "DemoLogin", "DemoSetup", "set_up_demo"]

#: The demo users: name, role, teams, what they see.
DEMO_USERS: Final = (
    ("admin", "admin", (), "everything, administration and the audit log"),
    ("manager", "manager", ("East",), "the customers of team East and region 华东"),
    ("am1", "account_manager", ("East",), "own book: core customers in 华东"),
    ("am2", "account_manager", ("North",), "own book: core customers in 华北"),
    ("analyst", "analyst", (), "aggregates and pseudonymised rows, no personal data"),
)
#: The teams: name, region, lead.
DEMO_TEAMS: Final = (("East", "华东", "manager"), ("North", "华北", None))
#: Whose book covers which team and region.
BOOKS: Final = (("am1", "East", "华东"), ("am2", "North", "华北"))
_RELATIONSHIP: Final = {"strategic": "alliance", "key": "partner"}


@dataclass(frozen=True)
class DemoLogin:
    """A demo user and the password printed for it."""

    username: str
    role: str
    password: str
    sees: str


@dataclass(frozen=True)
class DemoSetup:
    """What :func:`set_up_demo` loaded and created."""

    customers: int
    master_data: int
    logins: tuple[DemoLogin, ...]
    books: dict[str, int]
    alerts: dict[str, int]


def set_up_demo(
    analysis: Path,
    people: Path,
    *,
    passwords: Mapping[str, str],
    book_size: int = 30,
) -> DemoSetup:
    """Load the demo into the service (see the module docstring).

    Parameters
    ----------
    analysis
        The demo's ``analyze`` output folder.
    people
        The demo customers' master data, as
        :func:`corecustomers.data.demo_people.write_demo_people_csv` writes it.
    passwords
        The password of each demo user (by name).
    book_size
        The most customers an account manager owns.
    """
    with acting(Actor(channel="cli", request_id="demo")):
        imported = import_analysis(analysis)
        master = _load_master_data(people)
        logins = _people(passwords)
        books, alerts = _books(book_size)
    return DemoSetup(imported.customers, master, logins, books, alerts)


def _load_master_data(path: Path) -> int:
    """Import the demo master data (by external id, as any master-data file); rows loaded."""
    result = import_master_data(path)
    if result.bad_rows:
        raise RuntimeError(f"the demo master data has bad rows, the first: {result.bad_rows[0]}")
    return result.good_rows


def _people(passwords: Mapping[str, str]) -> tuple[DemoLogin, ...]:
    logins = []
    for name, role, teams, sees in DEMO_USERS:
        create_or_update_user(
            name,
            role=role,
            password=passwords[name],
            teams=list(teams),
            email=f"{name}@example.com",
            validate=False,
        )
        logins.append(DemoLogin(name, role, passwords[name], sees))
    for team_name, region, lead in DEMO_TEAMS:
        team, _ = Team.objects.get_or_create(name=team_name)
        team.region = region
        team.lead = User.objects.get(username=lead) if lead else None
        team.save(update_fields=["region", "lead"])
    return tuple(logins)


def _books(book_size: int) -> tuple[dict[str, int], dict[str, int]]:
    """Give each account manager a book of core customers of their region."""
    books: dict[str, int] = {}
    alerts: dict[str, int] = {}
    taken: set[int] = set(
        AccountMember.objects.filter(role="owner")
        .exclude(user__username__in=[user for user, _, _ in BOOKS])
        .values_list("customer_id", flat=True)
    )
    for username, team_name, region in BOOKS:
        user = User.objects.get(username=username)
        team = Team.objects.get(name=team_name)
        core = CustomerState.objects.filter(core=True, customer__region=region).exclude(
            customer_id__in=taken
        )
        alerting = list(
            core.filter(alert=True, action_due__isnull=False)
            .order_by("-value_at_stake", "customer_id")
            .values_list("customer_id", flat=True)[:book_size]
        )
        others = list(
            core.exclude(customer_id__in=alerting)
            .order_by("-core_score", "customer_id")
            .values_list("customer_id", flat=True)[: max(book_size - len(alerting), 0)]
        )
        chosen = alerting + others
        with transaction.atomic():
            for position, key in enumerate(chosen):
                _own(key, user, team, sponsor_too=position < 3 and team.lead is not None)
        taken.update(chosen)
        books[username] = len(chosen)
        alerts[username] = len(alerting)
    return books, alerts


def _own(key: int, user: User, team: Team, *, sponsor_too: bool) -> None:
    customer = Customer.objects.select_related("state").get(pk=key)
    _, created = AccountMember.objects.update_or_create(
        customer=customer, role="owner", defaults={"user": user}
    )
    tier = customer.state.tier if hasattr(customer, "state") else ""
    relationship = _RELATIONSHIP.get(tier, "vendor")
    changed = customer.team_id != team.pk or customer.relationship != relationship
    if changed:
        customer.team, customer.relationship = team, relationship
        customer.save(update_fields=["team", "relationship", "updated"])
    if sponsor_too and team.lead is not None:
        AccountMember.objects.get_or_create(customer=customer, user=team.lead, role="sponsor")
    if created or changed:
        record(
            "assign",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            after={"owner": user.username, "team": team.name, "relationship": relationship},
            message="demo book",
        )
