"""Changing a customer's account team and notes: who may, what is validated, the audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.changes import (
    ChangeError,
    ChangeNotAllowedError,
    account_team_snapshot,
    set_account_team,
    set_notes,
)
from corecustomers.web.customers.models import AccountMember, Customer
from corecustomers.web.customers.queries import CustomerNotFoundError

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(imported: Path, people: Any) -> list[Customer]:
    """am1 owns customers[0]; customers[1] is in team East; customers[2] is am2's."""
    customers = list(Customer.objects.order_by("pk")[:3])
    AccountMember.objects.create(customer=customers[0], user=people.am1, role="owner")
    customers[0].team = people.east
    customers[0].save()
    customers[1].team = people.east
    customers[1].save()
    AccountMember.objects.create(customer=customers[2], user=people.am2, role="owner")
    return customers


def team(customer: Customer, **changes: Any) -> dict[str, Any]:
    values = {**account_team_snapshot(customer), **changes}
    values["support"] = list(values["support"])
    return values


def test_admin_sets_the_whole_account_team_and_it_is_audited(book: Any, people: Any) -> None:
    customer = book[1]
    set_account_team(
        people.admin,
        customer,
        owner="am1",
        support=["am2"],
        sponsor="manager",
        team="West",
        relationship="alliance",
    )
    customer.refresh_from_db()
    assert account_team_snapshot(customer) == {
        "owner": "am1",
        "support": ["am2"],
        "sponsor": "manager",
        "team": "West",
        "relationship": "alliance",
    }
    entry = AuditEntry.objects.get(action="account_team")
    assert entry.customer_key == customer.pk and entry.username == "admin"
    assert entry.before["owner"] is None and entry.after["owner"] == "am1"


def test_a_change_to_nothing_writes_no_audit_entry(book: Any, people: Any) -> None:
    set_account_team(people.admin, book[0], **team(book[0]))
    assert not AuditEntry.objects.filter(action="account_team").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"owner": "nobody"}, "owner"),
        ({"owner": "analyst"}, "owner"),
        ({"support": ["am2", "am2"]}, "support"),
        ({"support": ["am1"]}, "support"),
        ({"sponsor": "ghost"}, "sponsor"),
        ({"team": "North"}, "team"),
        ({"relationship": "friend"}, "relationship"),
    ],
)
def test_bad_values_name_the_field(
    book: Any, people: Any, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ChangeError) as raised:
        set_account_team(people.admin, book[0], **team(book[0], **changes))
    assert raised.value.field == field
    assert not isinstance(raised.value, ChangeNotAllowedError)
    assert account_team_snapshot(book[0])["owner"] == "am1"


def test_account_manager_changes_support_and_relationship_but_not_ownership(
    book: Any, people: Any
) -> None:
    mine = book[0]
    set_account_team(people.am1, mine, **team(mine, support=["manager"], relationship="partner"))
    assert account_team_snapshot(mine)["support"] == ["manager"]
    for field, value in (("owner", "am2"), ("owner", None), ("sponsor", "manager"), ("team", None)):
        with pytest.raises(ChangeNotAllowedError) as raised:
            set_account_team(people.am1, mine, **team(mine, **{field: value}))
        assert raised.value.field == field
    with pytest.raises(CustomerNotFoundError):
        set_account_team(people.am1, book[2], **team(book[2], support=["am1"]))


def test_manager_assigns_within_own_teams(book: Any, people: Any) -> None:
    east_customer = book[1]
    set_account_team(people.manager, east_customer, **team(east_customer, owner="am1"))
    assert account_team_snapshot(east_customer)["owner"] == "am1"
    with pytest.raises(ChangeNotAllowedError) as raised:
        set_account_team(people.manager, east_customer, **team(east_customer, owner="am2"))
    assert raised.value.field == "owner"
    with pytest.raises(ChangeNotAllowedError) as raised:
        set_account_team(people.manager, east_customer, **team(east_customer, team="West"))
    assert raised.value.field == "team"
    with pytest.raises(CustomerNotFoundError):  # am2's customer is outside team East
        set_account_team(people.manager, book[2], **team(book[2]))


def test_notes_by_the_account_team_not_by_analysts(book: Any, people: Any) -> None:
    set_notes(people.am1, book[0], "prefers calls after 18:00 · 晚上六点后联系")
    book[0].refresh_from_db()
    assert book[0].notes.startswith("prefers calls")
    entry = AuditEntry.objects.get(action="notes")
    assert entry.before == {"notes": ""} and entry.customer_key == book[0].pk
    with pytest.raises(ChangeNotAllowedError):
        set_notes(people.analyst, book[0], "x")
    with pytest.raises(CustomerNotFoundError):
        set_notes(people.am2, book[0], "x")
    with pytest.raises(ChangeError) as raised:
        set_notes(people.am1, book[0], "x" * 20_001)
    assert raised.value.field == "notes"
