"""The state's copies of the customer's region and team, and a scope read from them.

``CustomerState.scope_region`` / ``scope_team`` are kept equal to the customer's region
and team by database triggers, whatever writes them; a manager's dashboard and list counts
read the scope from them in disjoint parts (``state_scope``). Every answer here is compared
with the plain computation over ``Customer.objects.restrict(user)``, on the CDNOW analysis
with a manager whose scope has a region-only part, a team-only part and an overlap.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from corecustomers.web.accounts.models import Team
from corecustomers.web.customers.analysis_import import import_analysis
from corecustomers.web.customers.models import (
    AccountMember,
    Customer,
    CustomerHistory,
    CustomerState,
)
from corecustomers.web.customers.queries import (
    CustomerFilter,
    customer_page,
    customer_queryset,
    dashboard,
    tier_labels,
)
from corecustomers.web.customers.scope import state_scope

pytestmark = pytest.mark.django_db


def _copies() -> dict[int, tuple[str, int | None]]:
    return {
        s["customer_id"]: (s["scope_region"], s["scope_team"])
        for s in CustomerState.objects.values("customer_id", "scope_region", "scope_team")
    }


def _truth() -> dict[int, tuple[str, int | None]]:
    return {
        c["pk"]: (c["region"], c["team_id"])
        for c in Customer.objects.filter(state__isnull=False).values("pk", "region", "team_id")
    }


def test_copies_follow_every_way_of_writing(imported: Path, people: Any) -> None:
    a, b, c, d, e = Customer.objects.filter(state__isnull=False).order_by("pk")[:5]
    a.region = "east"
    a.save()  # the ORM
    Customer.objects.filter(pk=b.pk).update(team=people.west)  # a bulk update
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:  # raw SQL
        cursor.execute(f"UPDATE {table} SET region = %s WHERE id = %s", ["north", c.pk])
    forged = CustomerState.objects.get(pk=d.pk)  # the application cannot set the copies
    forged.scope_region, forged.scope_team = "forged", people.east.pk
    forged.save()
    CustomerState.objects.filter(pk=e.pk).update(scope_region="forged", scope_team=people.west.pk)
    assert _copies()[a.pk] == ("east", None)
    assert _copies()[b.pk] == ("", people.west.pk)
    assert _copies()[c.pk] == ("north", None)
    assert _copies() == _truth()

    people.west.delete()  # the customer's team is set to null
    assert _copies()[b.pk] == ("", None)
    new = Customer.objects.create(
        external_id="new-1", pseudonym="p-new-1", region="south", team=people.east
    )
    CustomerState.objects.create(customer=new, as_of=dt.date(2024, 1, 1), run_id="x", tier="key")
    assert _copies()[new.pk] == ("south", people.east.pk)
    assert _copies() == _truth()


def test_copies_survive_a_later_import(imported: Path, people: Any) -> None:
    pks = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:50])
    Customer.objects.filter(pk__in=pks[:25]).update(region="east")
    Customer.objects.filter(pk__in=pks[20:]).update(team=people.east)
    import_analysis(imported)  # every state upserted again
    assert sum(1 for region, _ in _copies().values() if region == "east") == 25
    assert _copies() == _truth()


@pytest.fixture
def scoped(imported: Path, people: Any) -> Any:
    """manager leads East (region east) and South (region south); customers in each way."""
    south = Team.objects.create(name="South", region="south", lead=people.manager)
    pks = list(
        Customer.objects.filter(state__isnull=False).order_by("pk").values_list("pk", flat=True)
    )
    Customer.objects.filter(pk__in=pks[0:400]).update(region="east")  # region only
    Customer.objects.filter(pk__in=pks[400:700]).update(region="north", team=people.east)
    Customer.objects.filter(pk__in=pks[700:900]).update(region="east", team=people.east)
    Customer.objects.filter(pk__in=pks[900:1000]).update(region="south", team=south)
    Customer.objects.filter(pk__in=pks[1000:1200]).update(region="west", team=people.west)
    Customer.objects.filter(pk__in=pks[1200:1300]).update(team=south)  # team, no region
    Customer.objects.create(external_id="master-only", pseudonym="p-mo", region="east")
    in_scope = pks[0:1000:7] + pks[1000:1200:5]
    for pk in in_scope[::2]:  # some owned, in and out of scope
        AccountMember.objects.create(customer_id=pk, user=people.am1, role="owner")
    return people


def test_the_parts_are_the_managers_customers_exactly(scoped: Any) -> None:
    manager = scoped.manager
    parts = state_scope(manager)
    # east and south; then the teams' customers below east, between east and south (the
    # north ones), above south
    assert parts is not None and len(parts) == 4
    ids = [set(p.states().values_list("customer_id", flat=True)) for p in parts]
    assert sum(len(i) for i in ids) == len(set().union(*ids))  # disjoint
    visible = Customer.objects.restrict(manager).filter(state__isnull=False)
    assert set().union(*ids) == set(visible.values_list("pk", flat=True))
    assert len(set().union(*ids)) == 1000 + 100
    assert [len(i) for i in ids] == [700, 100, 300, 0]
    assert state_scope(scoped.admin) is None and state_scope(scoped.analyst) is None


@pytest.mark.parametrize(
    "values",
    [{"tier": "key"}, {"alert": "yes", "tier": "key"}, {"abc": "A"}, {"segment": "Champions"}],
)
def test_a_managers_counts_equal_the_customers_listed(scoped: Any, values: Any) -> None:
    flt = CustomerFilter.from_mapping(values)
    page = customer_page(scoped.manager, flt, limit=5, audit=False)
    assert page.count == customer_queryset(scoped.manager, flt).count()
    assert page.count > 0 or values == {"segment": "Champions"}


def test_a_managers_dashboard_equals_a_direct_computation(scoped: Any) -> None:
    _, core, _ = tier_labels()
    visible = Customer.objects.restrict(scoped.manager).values("pk")
    states = list(CustomerState.objects.filter(customer__in=visible))
    owned = set(AccountMember.objects.filter(role="owner").values_list("customer_id", flat=True))
    board = dashboard(scoped.manager)
    assert not board.whole_base
    assert board.customers == len(states) == 1100
    for t in board.tiers:
        mine = [s for s in states if s.tier == t.tier]
        assert t.customers == len(mine)
        assert t.revenue == pytest.approx(sum(s.total_spend for s in mine))
        assert t.clv == pytest.approx(sum(s.clv or 0.0 for s in mine))
        assert t.alerts == sum(1 for s in mine if s.alert)
        assert t.value_at_stake == pytest.approx(
            sum(s.value_at_stake or 0 for s in mine if s.alert)
        )
    spends = sorted((s.total_spend for s in states), reverse=True)
    head = max(1, round(0.2 * len(spends)))
    assert board.top_20pct_share == pytest.approx(sum(spends[:head]) / sum(spends))
    core_states = [s for s in states if s.tier in core]
    assert board.core_customers == len(core_states)
    assert board.without_owner_by_tier == {
        tier: sum(1 for s in core_states if s.tier == tier and s.customer_id not in owned)
        for tier in core
    }
    assert 0 < board.core_without_owner < board.core_customers
    won = sum(1 for s in core_states if (s.previous_tier or "") not in core)
    assert board.flows["won"] == won
    points = CustomerHistory.objects.filter(customer__in=visible, tier__in=core)
    assert board.trend[-1]["core_customers"] == points.filter(as_of=board.as_of).count()


def test_the_filter_forms_regions_are_the_visible_distinct_regions(scoped: Any) -> None:
    from corecustomers.web.customers.queries import regions

    every = Customer.objects.exclude(region="").values_list("region", flat=True)
    assert regions(scoped.admin) == sorted(set(every)) == ["east", "north", "south", "west"]
    visible = Customer.objects.restrict(scoped.manager).exclude(region="")
    assert regions(scoped.manager) == sorted(set(visible.values_list("region", flat=True)))
    assert regions(scoped.manager) == ["east", "north", "south"]


def test_copies_follow_a_bulk_change_of_every_customer(imported: Path, people: Any) -> None:
    """One statement changes the region and team of every customer (the PostgreSQL trigger
    runs once per statement over its transition tables), another changes some of them
    back and leaves the others as they are."""
    from django.db.models import Case, IntegerField, Value, When
    from django.db.models.functions import Mod

    Customer.objects.annotate(k=Mod("pk", 4)).update(
        region=Case(
            When(k=0, then=Value("east")), When(k=1, then=Value("west")), default=Value("")
        ),
        team=Case(
            When(k=1, then=Value(people.east.pk)),
            When(k=2, then=Value(people.west.pk)),
            default=None,
            output_field=IntegerField(),
        ),
    )
    copies = _copies()
    assert copies == _truth()
    assert {region for region, _ in copies.values()} == {"east", "west", ""}
    assert {team for _, team in copies.values()} == {people.east.pk, people.west.pk, None}
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:  # raw SQL: half of them change, half stay
        cursor.execute(
            f"UPDATE {table} SET region = CASE WHEN id % 2 = 0 THEN 'north' ELSE region END, "
            "team_id = CASE WHEN id % 2 = 0 THEN NULL ELSE team_id END"
        )
    assert _copies() == _truth()
    assert sum(1 for region, _ in _copies().values() if region == "north") > 0
