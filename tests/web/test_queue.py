"""My work: alerts by value at stake, actions, cadence, birthdays, follow-ups; snooze, hand over."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from corecustomers.web.customers.models import (
    AccountMember,
    Analysis,
    CustomerState,
    ServiceSetting,
)
from corecustomers.web.work.interactions import log_interaction
from corecustomers.web.work.models import Alert
from corecustomers.web.work.queue import QueueError, can_see_queue_of, hand_over, my_work, snooze
from corecustomers.web.work.routing import route_alerts

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(imported: Path, people):  # type: ignore[no-untyped-def]
    """am1 owns the five alerted customers with the most at stake."""
    states = list(CustomerState.objects.filter(alert=True).order_by("-value_at_stake", "pk")[:5])
    for state in states:
        AccountMember.objects.create(customer=state.customer, user=people.am1, role="owner")
    route_alerts(Analysis.objects.get().run_id)
    return [s.customer for s in states]


def test_alerts_first_by_value_at_stake_then_the_rest_each_with_why(book, people) -> None:  # type: ignore[no-untyped-def]
    items = my_work(people.am1)
    alerts = [i for i in items if i.kind == "alert"]
    assert [i.customer_key for i in alerts] == [c.external_id for c in book]
    stakes = [i.value_at_stake for i in alerts]
    assert stakes == sorted(stakes, reverse=True)
    assert all(i.reason_en and i.reason_zh for i in items)
    assert my_work(people.am2) == []


def test_at_most_k_alerts_the_rest_wait(book, people) -> None:  # type: ignore[no-untyped-def]
    ServiceSetting.objects.create(key="max_open_alerts", value=2)
    alerts = [i for i in my_work(people.am1) if i.kind == "alert"]
    assert [i.customer_key for i in alerts] == [c.external_id for c in book[:2]]


def test_logging_a_retained_visit_removes_the_item(book, people) -> None:  # type: ignore[no-untyped-def]
    log_interaction(people.am1, book[0], kind="visit", outcome="retained")
    keys = {i.customer_key for i in my_work(people.am1) if i.kind == "alert"}
    assert book[0].external_id not in keys and len(keys) == 4


def test_snooze_and_hand_over(book, people) -> None:  # type: ignore[no-untyped-def]
    first = next(i for i in my_work(people.am1) if i.kind == "alert")
    with pytest.raises(QueueError):
        snooze(people.am1, first.key, until=timezone.localdate(), reason="x")
    snooze(
        people.am1, first.key, until=timezone.localdate() + dt.timedelta(days=3), reason="on leave"
    )
    assert first.key not in {i.key for i in my_work(people.am1)}
    second = next(i for i in my_work(people.am1) if i.kind == "alert")
    with pytest.raises(QueueError) as refused:
        hand_over(people.am1, second.key, to=people.am2)  # am2 is not on the account team
    assert refused.value.field == "to"
    alert = Alert.objects.get(pk=int(second.key.split(":")[1]))
    AccountMember.objects.create(customer=alert.customer, user=people.am2, role="support")
    hand_over(people.am1, second.key, to=people.am2)
    assert second.key in {i.key for i in my_work(people.am2)}
    assert second.key not in {i.key for i in my_work(people.am1)}


def test_cadence_birthday_and_follow_up(book, people) -> None:  # type: ignore[no-untyped-def]
    today = timezone.localdate()
    customer = book[0]
    customer.birthday = dt.date(
        1980, (today + dt.timedelta(days=3)).month, (today + dt.timedelta(days=3)).day
    )
    customer.save()
    kinds = {(i.kind, i.customer_key) for i in my_work(people.am1)}
    assert ("birthday", customer.external_id) in kinds
    tier = CustomerState.objects.get(customer=customer).tier
    if tier in {"strategic", "key"}:
        assert ("cadence", customer.external_id) in kinds  # never contacted
    log_interaction(people.am1, customer, kind="complaint", notes="late delivery")
    follow = [
        i for i in my_work(people.am1, today=today + dt.timedelta(days=3)) if i.kind == "follow_up"
    ]
    assert [i.customer_key for i in follow] == [customer.external_id]
    log_interaction(people.am1, customer, kind="call", outcome="reached")
    after = {
        (i.kind, i.customer_key) for i in my_work(people.am1, today=today + dt.timedelta(days=3))
    }
    assert ("follow_up", customer.external_id) not in after
    assert ("birthday", customer.external_id) not in after
    assert ("cadence", customer.external_id) not in after


def test_who_sees_whose_queue(people) -> None:  # type: ignore[no-untyped-def]
    assert can_see_queue_of(people.manager, people.am1)  # leads East
    assert not can_see_queue_of(people.manager, people.am2)
    assert not can_see_queue_of(people.am1, people.am2)
    assert can_see_queue_of(people.admin, people.am2)


def test_management_view_counts_sla_outcomes_and_work(book, people) -> None:  # type: ignore[no-untyped-def]
    from corecustomers.web.work.management import management

    for customer in book:
        customer.team = people.east
        customer.save()
    log_interaction(people.am1, book[0], kind="visit", outcome="retained")
    log_interaction(people.am1, book[1], kind="call", outcome="lost")
    view = management(people.manager)
    assert view.core_without_owner == 0  # the manager sees East's customers only: all owned
    east = next(row for row in view.sla if row["team"] == "East")
    due_now = Alert.objects.filter(
        customer__team=people.east, due_at__gte=view.period.start, due_at__lt=view.period.end
    ).count()
    assert east["now"]["due"] == due_now
    outcomes = {(o["tier"], o["outcome"]): o["alerts"] for o in view.outcomes}
    assert sum(outcomes.values()) == 2
    assert {o for _, o in outcomes} == {"retained", "lost"}
    mine = next(row for row in view.work if row["user"] == "am1")
    assert mine["interactions"] == 2 and mine["alerts_resolved"] == 2
    assert management(people.am2).work == []


def test_other_apps_add_items_and_hold_them_through_the_hooks(book, people, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The ``work_item_providers``/``work_item_checks`` hooks: a new kind sorts after the
    built-in ones; a held item says why on the page and in the API."""
    import dataclasses

    from django.apps import apps
    from django.test import Client

    from corecustomers.web.accounts.models import ApiToken
    from corecustomers.web.work.queue import WorkItem

    def provide(person, today, snoozed):  # type: ignore[no-untyped-def]
        return [WorkItem("plan:1", "plan", book[0].external_id, "x", "Care call", "关怀电话",
                         today, None)]  # fmt: skip

    def check(person, items, today):  # type: ignore[no-untyped-def]
        return [
            dataclasses.replace(i, held_en="no consent for SMS", held_zh="未同意短信")
            if i.kind == "plan"
            else i
            for i in items
        ]

    config = apps.get_app_config("work")
    monkeypatch.setattr(config, "work_item_providers", (provide,), raising=False)
    monkeypatch.setattr(config, "work_item_checks", (check,), raising=False)
    items = my_work(people.am1)  # (other installed apps may add items of their own too)
    keys = [i.key for i in items]
    mine = items[keys.index("plan:1")]
    assert mine.held_en == "no consent for SMS"
    builtin = [n for n, i in enumerate(items) if i.kind in {"alert", "follow_up", "action"}]
    assert [i.kind for i in items[:5]] == ["alert"] * 5 and max(builtin) < keys.index("plan:1")
    token = ApiToken.issue(people.am1, scope="read")[1]
    body = Client().get("/api/v1/work", headers={"Authorization": f"Bearer {token}"}).json()
    plan = next(i for i in body["items"] if i["key"] == "plan:1")
    assert (plan["kind"], plan["held"], plan["held_reason"]) == ("plan", True, "no consent for SMS")
    assert not any(i["held"] for i in body["items"] if i["kind"] == "alert")
    page = Client()
    page.force_login(people.am1)
    html = page.get("/work/").content.decode()
    card = html.split('data-item="plan:1"')[1].split("</li>")[0]
    assert 'data-field="held"' in card and "no consent for SMS" in card
