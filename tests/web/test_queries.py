"""Customer list, search, export, profile and dashboard, scoped by role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.models import AccountMember, Customer, CustomerState
from corecustomers.web.customers.queries import (
    CustomerFilter,
    CustomerNotFoundError,
    FilterError,
    customer_page,
    dashboard,
    export_csv,
    find_customer,
    profile,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(imported: Path, people):  # type: ignore[no-untyped-def]
    """am1 owns the three customers with the highest core score, am2 the next two."""
    top = list(Customer.objects.order_by("-state__core_score", "pk")[:5])
    for customer in top[:3]:
        AccountMember.objects.create(customer=customer, user=people.am1, role="owner")
    for customer in top[3:]:
        AccountMember.objects.create(customer=customer, user=people.am2, role="owner")
    top[0].name, top[0].phone = "王小明", "13800000001"
    top[0].save()
    return top


def test_account_manager_lists_exactly_own_book(book, people) -> None:  # type: ignore[no-untyped-def]
    page = customer_page(people.am1, CustomerFilter())
    assert page.count == 3
    assert [row.key for row in page.items] == [c.external_id for c in book[:3]]
    assert all(row.owner == "am1" for row in page.items)


def test_search_by_name_and_phone_is_scoped_and_audited(book, people) -> None:  # type: ignore[no-untyped-def]
    assert customer_page(people.am1, CustomerFilter(q="王小明")).count == 1
    assert customer_page(people.am1, CustomerFilter(q="13800000001")).count == 1
    assert customer_page(people.am2, CustomerFilter(q="王小明")).count == 0
    searches = AuditEntry.objects.filter(action="search")
    assert searches.count() == 3
    assert searches.filter(username="am2").get().row_count == 0


def test_analyst_sees_no_personal_data_and_searches_by_pseudonym(book, people) -> None:  # type: ignore[no-untyped-def]
    page = customer_page(people.analyst, CustomerFilter(), limit=500)
    assert page.count == Customer.objects.count()
    assert all(row.name is None and row.phone is None for row in page.items)
    assert all(row.key.startswith("p-") for row in page.items)
    assert customer_page(people.analyst, CustomerFilter(q="王小明")).count == 0
    assert customer_page(people.analyst, CustomerFilter(q=book[0].pseudonym)).count == 1
    with pytest.raises(CustomerNotFoundError):
        find_customer(people.analyst, book[0].external_id)
    shown = profile(people.analyst, find_customer(people.analyst, book[0].pseudonym))
    assert shown.name is None and shown.phone is None and shown.personal_data_hidden
    assert not shown.can_change
    text = "".join(export_csv(people.analyst, CustomerFilter()))
    assert "王小明" not in text and "13800000001" not in text
    assert book[0].external_id not in text.split(",")


def test_out_of_scope_profile_is_not_found(book, people) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CustomerNotFoundError):
        find_customer(people.am2, book[0].external_id)
    mine = find_customer(people.am1, book[0].external_id)
    shown = profile(people.am1, mine)
    assert shown.name == "王小明" and shown.can_change
    assert [m.username for m in shown.account_team] == ["am1"]
    assert AuditEntry.objects.filter(action="view", customer_key=mine.pk).count() == 1


def test_filters_and_sorts(book, people) -> None:  # type: ignore[no-untyped-def]
    page = customer_page(people.admin, CustomerFilter(tier="strategic", sort="-clv"), limit=500)
    assert page.count == CustomerState.objects.filter(tier="strategic").count()
    clvs = [row.clv for row in page.items]
    assert clvs == sorted(clvs, key=lambda v: -(v or 0))
    assert customer_page(people.admin, CustomerFilter(owner="none")).count == (
        Customer.objects.count() - 5
    )
    assert customer_page(people.admin, CustomerFilter(owner="am2")).count == 2
    with pytest.raises(FilterError) as bad:
        CustomerFilter.from_mapping({"sort": "name; DROP TABLE"})
    assert bad.value.field == "sort"


def test_export_neutralises_formulas_and_is_audited(book, people) -> None:  # type: ignore[no-untyped-def]
    book[0].name = '=HYPERLINK("http://x")'
    book[0].save()
    text = "".join(export_csv(people.am1, CustomerFilter()))
    lines = text.lstrip("\ufeff").splitlines()
    assert len(lines) == 4
    assert "'=HYPERLINK" in text
    entry = AuditEntry.objects.get(action="export")
    assert entry.row_count == 3 and entry.username == "am1"


def test_dashboard_for_the_whole_base_equals_summary_json(imported: Path, people) -> None:  # type: ignore[no-untyped-def]
    summary = json.loads((imported / "summary.json").read_text(encoding="utf-8"))
    board = dashboard(people.admin)
    assert board.customers == summary["customers"]
    assert board.revenue == pytest.approx(summary["revenue"])
    expected = {row["tier"]: row["customers"] for row in summary["tiers"]["table"]}
    assert {t.tier: t.customers for t in board.tiers} == expected
    assert board.core_customers == summary["alerts"]["core_customers"]
    assert board.open_alerts == CustomerState.objects.filter(alert=True).count()
    assert board.top_20pct_share == summary["concentration"]["top_20pct_share"]
    assert board.core_without_owner == board.core_customers


def test_dashboard_of_an_account_manager_counts_own_book_only(book, people) -> None:  # type: ignore[no-untyped-def]
    board = dashboard(people.am1)
    assert board.customers == 3
    expected = sum(CustomerState.objects.get(customer=c).total_spend for c in book[:3])
    assert board.revenue == pytest.approx(expected)
    assert not board.whole_base
