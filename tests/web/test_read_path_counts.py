"""The read path's shortcuts for users who see every customer give the same answers.

``customer_page`` counts state rows instead of joining every customer when an admin or
analyst filters on state columns only, and ``dashboard`` reads every state without the
customer sub-query for them, in one aggregate per (previous tier, tier). Each answer is
compared with the plain query over the customers, on the CDNOW analysis plus customers
that have master data but no analysis state (which no state filter may count).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db.models import Count, Q, Sum

from corecustomers.web.customers.models import Customer, CustomerState
from corecustomers.web.customers.queries import (
    CustomerFilter,
    customer_page,
    customer_queryset,
    dashboard,
)

pytestmark = pytest.mark.django_db

FILTERS = [
    {"tier": "key"},
    {"alert": "yes"},
    {"alert": "no"},
    {"abc": "A", "alert": "no"},
    {"segment": "Champions", "tier": "strategic"},
    {"tier": "no-such-tier"},
    {"tier": "key", "alert": "yes", "sort": "-value_at_stake"},
    {"tier": "key", "region": "east"},  # a customer filter: the plain count
]


@pytest.fixture
def base(imported: Path) -> Path:
    for i in range(3):  # master data without an analysis state
        Customer.objects.create(external_id=f"only-master-{i}", pseudonym=f"p-only{i}")
    return imported


@pytest.mark.parametrize("role", ["admin", "analyst", "manager"])
@pytest.mark.parametrize("values", FILTERS)
def test_count_equals_the_customers_listed(base, people, role, values) -> None:  # type: ignore[no-untyped-def]
    user = getattr(people, role)
    flt = CustomerFilter.from_mapping(values)
    page = customer_page(user, flt, limit=5, audit=False)
    assert page.count == customer_queryset(user, flt).count()
    assert len(page.items) == min(5, page.count)


def test_whole_base_dashboard_equals_per_tier_aggregates(base, people) -> None:  # type: ignore[no-untyped-def]
    board = dashboard(people.admin)
    expected = {
        row["tier"]: row
        for row in CustomerState.objects.values("tier").annotate(
            n=Count("pk"),
            revenue=Sum("total_spend"),
            alerts=Count("pk", filter=Q(alert=True)),
            stake=Sum("value_at_stake", filter=Q(alert=True)),
        )
    }
    assert {t.tier for t in board.tiers} >= set(expected)
    for t in board.tiers:
        row = expected.get(t.tier, {})
        assert t.customers == (row.get("n") or 0)
        assert t.alerts == (row.get("alerts") or 0)
        assert t.revenue == pytest.approx(row.get("revenue") or 0.0)
        assert t.value_at_stake == pytest.approx(row.get("stake") or 0.0)
    assert board.customers == CustomerState.objects.count()
    core = [t.tier for t in board.tiers if t.core]
    won = CustomerState.objects.filter(tier__in=core).exclude(previous_tier__in=core)
    assert board.flows["won"] == won.count()
    assert dashboard(people.analyst) == board


def test_dashboard_of_a_part_of_the_base_equals_a_plain_computation(base, people) -> None:  # type: ignore[no-untyped-def]
    east = list(Customer.objects.filter(state__isnull=False).order_by("pk")[:23])
    Customer.objects.filter(pk__in=[c.pk for c in east]).update(region="east")
    board = dashboard(people.manager)
    assert not board.whole_base
    states = list(CustomerState.objects.filter(customer__in=east))
    spends = sorted((s.total_spend for s in states), reverse=True)
    head = max(1, round(0.2 * len(spends)))
    assert board.customers == 23
    assert board.top_20pct_share == pytest.approx(sum(spends[:head]) / sum(spends))
    core = {t.tier for t in board.tiers if t.core}
    assert board.core_customers == sum(1 for s in states if s.tier in core)
    assert board.core_without_owner == board.core_customers  # nobody owns them
    assert board.trend[-1]["core_customers"] == board.core_customers
    assert board.value_at_stake == pytest.approx(
        sum(s.value_at_stake or 0.0 for s in states if s.alert)
    )


@pytest.mark.parametrize("sort", ["-core_score", "clv", "-value_at_stake", "p_alive"])
def test_an_account_managers_order_is_the_lists_order(base, people, sort) -> None:  # type: ignore[no-untyped-def]
    from corecustomers.web.customers.models import AccountMember

    book = list(Customer.objects.filter(state__isnull=False).order_by("pk")[:40:3])
    for customer in book:
        AccountMember.objects.create(customer=customer, user=people.am1, role="owner")
    flt = CustomerFilter.from_mapping({"sort": sort})
    mine = [row.key for row in customer_page(people.am1, flt, limit=500, audit=False).items]
    everyone = [c.external_id for c in customer_queryset(people.admin, flt)]
    keys = {c.external_id for c in book}
    assert mine == [key for key in everyone if key in keys]
    assert len(mine) == len(book)


@pytest.mark.parametrize("sort", ["-core_score", "clv", "-value_at_stake", "p_alive", "-id"])
@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_every_page_is_the_plain_orders_page(base, people, role, sort) -> None:  # type: ignore[no-untyped-def]
    """Pages read among the customers with a sort value (an inner join) equal the plain
    order's pages, across the point where customers without a value (null, or no state:
    ``base`` adds three) begin."""
    user = getattr(people, role)
    flt = CustomerFilter.from_mapping({"sort": sort})
    everyone = [
        c.external_id if role == "admin" else c.pseudonym for c in customer_queryset(user, flt)
    ]
    assert everyone and len(everyone) == Customer.objects.count()
    listed: list[str] = []
    limit = 97
    for offset in range(0, len(everyone), limit):
        page = customer_page(user, flt, limit=limit, offset=offset, audit=False)
        listed += [row.key for row in page.items]
    assert listed == everyone


def test_the_state_keeps_one_index_per_use(db: None) -> None:
    """Migration 0007: no index of ``tier`` or ``alert`` alone (each leads a composite
    index that serves the same filters) and, on PostgreSQL, no ``varchar_pattern_ops``
    copy (the state's text columns are compared for equality only); the indexes the
    filters and sorts read are there. The answers of the tests above are unchanged."""
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "customers_customerstate")
    indexes = {name: c["columns"] for name, c in found.items() if c["index"]}
    singles = sorted(cols[0] for cols in indexes.values() if len(cols) == 1)
    assert "tier" not in singles and "alert" not in singles
    assert {"abc_class", "clv", "core_score", "rfm_segment", "value_at_stake"} <= set(singles)
    assert ["tier", "core_score"] in indexes.values()
    assert ["alert", "value_at_stake"] in indexes.values()
    assert not [name for name in indexes if name.endswith("_like")]
