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
