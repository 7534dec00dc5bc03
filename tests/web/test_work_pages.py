"""The account team's pages through the real app: My work, logging an interaction, the
profile's timeline, alerts, notifications and the team view -- each within its scope."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from corecustomers.web.customers.models import AccountMember, Analysis, Customer, CustomerState
from corecustomers.web.work.models import Alert, Interaction, Notification
from corecustomers.web.work.routing import route_alerts

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def book(imported: Path, people: Any) -> list[Customer]:
    """am1 owns the four alerted customers with the most at stake (team East); am2 the fifth."""
    states = list(CustomerState.objects.filter(alert=True).order_by("-value_at_stake", "pk")[:5])
    for state in states[:4]:
        AccountMember.objects.create(customer=state.customer, user=people.am1, role="owner")
        state.customer.team = people.east
        state.customer.save()
    AccountMember.objects.create(customer=states[4].customer, user=people.am2, role="owner")
    route_alerts(Analysis.objects.get().run_id)
    return [s.customer for s in states]


def login(name: str, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    assert client.login(username=name, password=PASSWORD)
    return client


def work_keys(html: str) -> list[str]:
    return re.findall(r'data-item="([^"]+)"', html)


def test_my_work_lists_own_alerts_by_value_at_stake_with_why(book: Any, people: Any) -> None:
    page = login("am1").get(reverse("pages:work"))
    assert page.status_code == 200
    html = page.content.decode()
    alert_keys = [k for k in work_keys(html) if k.startswith("alert:")]
    expected = [
        f"alert:{a.pk}"
        for a in Alert.objects.filter(customer__in=book[:4]).order_by("-value_at_stake", "pk")
    ]
    assert alert_keys == expected
    assert book[4].external_id not in html  # am2's customer is not in am1's queue
    assert html.count('data-field="why"') == len(work_keys(html))
    assert 'data-action="log"' in html


def test_logging_a_retained_visit_resolves_the_alert_and_leaves_the_queue(
    book: Any, people: Any
) -> None:
    client = login("am1")
    top = book[0]
    alert = Alert.objects.get(customer=top)
    response = client.post(
        reverse("pages:log-interaction", kwargs={"key": top.external_id}),
        {
            "kind": "visit",
            "channel": "in_person",
            "outcome": "retained",
            "notes": "tea",
            "next": "/work/",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/work/"
    html = response.content.decode()
    assert "Visit logged. Alert resolved." in html
    assert f"alert:{alert.pk}" not in work_keys(html)
    alert.refresh_from_db()
    assert (alert.status, alert.outcome) == ("resolved", "retained")
    profile = client.get(reverse("pages:customer", kwargs={"key": top.external_id})).content
    timeline = profile.decode().split('id="timeline"')[1]
    assert "Visit" in timeline and "Retained" in timeline and "tea" in timeline


def test_the_log_form_says_what_is_wrong_and_keeps_the_input(book: Any) -> None:
    client = login("am1")
    url = reverse("pages:log-interaction", kwargs={"key": book[0].external_id})
    response = client.post(url, {"kind": "call", "next_step": "send the offer"})
    assert response.status_code == 400
    assert "give the date of the next step" in response.content.decode()
    assert 'value="send the offer"' in response.content.decode()
    assert not Interaction.objects.exists()


def test_others_customers_and_queues_are_not_found(book: Any, people: Any) -> None:
    am2 = login("am2")
    key = book[0].external_id
    assert am2.get(reverse("pages:customer", kwargs={"key": key})).status_code == 404
    assert am2.get(reverse("pages:log-interaction", kwargs={"key": key})).status_code == 404
    response = am2.post(reverse("pages:log-interaction", kwargs={"key": key}), {"kind": "visit"})
    assert response.status_code == 404 and not Interaction.objects.exists()
    assert am2.get(reverse("pages:work") + "?user=am1").status_code == 404
    assert login("am1").get(reverse("pages:work") + "?user=am2").status_code == 404
    manager = login("manager")
    assert manager.get(reverse("pages:work") + "?user=am2").status_code == 404  # not East
    seen = manager.get(reverse("pages:work") + "?user=am1")
    assert seen.status_code == 200
    assert work_keys(seen.content.decode()) == work_keys(
        login("am1").get(reverse("pages:work")).content.decode()
    )
    # the alert of am1's customer cannot be changed by am2 either
    alert = Alert.objects.get(customer=book[0])
    denied = am2.post(
        reverse("pages:alert-change", kwargs={"pk": alert.pk}),
        {"status": "dismissed", "outcome": "false_alarm"},
    )
    assert denied.status_code == 404
    alert.refresh_from_db()
    assert alert.status == "open"


def test_snooze_and_hand_over_from_the_page(book: Any, people: Any) -> None:
    client = login("am1")
    keys = [k for k in work_keys(client.get("/work/").content.decode()) if k.startswith("alert:")]
    refused = client.post(
        "/work/snooze/",
        {"item": keys[0], "until": timezone.localdate().isoformat(), "reason": "x"},
        follow=True,
    )
    assert "choose a later day" in refused.content.decode()
    later = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    done = client.post(
        "/work/snooze/", {"item": keys[0], "until": later, "reason": "on leave"}, follow=True
    )
    assert f"Snoozed until {later}." in done.content.decode()
    assert keys[0] not in work_keys(done.content.decode())
    alert = Alert.objects.get(pk=int(keys[1].split(":")[1]))
    AccountMember.objects.create(customer=alert.customer, user=people.manager, role="support")
    moved = client.post("/work/hand-over/", {"item": keys[1], "to": "manager"}, follow=True)
    assert "Handed over to manager." in moved.content.decode()
    assert keys[1] not in work_keys(moved.content.decode())
    alert.refresh_from_db()
    assert alert.assignee == people.manager


def test_empty_queue_says_what_to_do(people: Any) -> None:
    html = login("am2").get("/work/").content.decode()
    assert 'data-empty="no-customers"' in html
    assert "Ask your manager to put you on an account team" in html


def test_alerts_page_ranks_scopes_and_changes_status(book: Any, people: Any) -> None:
    am1 = login("am1")
    html = am1.get("/alerts/").content.decode()
    shown = [int(pk) for pk in re.findall(r'data-alert="(\d+)"', html)]
    mine = Alert.objects.filter(customer__in=book[:4]).order_by("-value_at_stake", "pk")
    assert shown == [a.pk for a in mine]
    assert 'data-kpi="precision"' in html
    target = mine[1]
    missing = am1.post(f"/alerts/{target.pk}/", {"status": "resolved"}, follow=True)
    assert "choose the outcome" in missing.content.decode()
    am1.post(f"/alerts/{target.pk}/", {"status": "dismissed", "outcome": "false_alarm"})
    target.refresh_from_db()
    assert (target.status, target.outcome, target.resolved_by) == (
        "dismissed",
        "false_alarm",
        people.am1,
    )
    assert target.pk not in [
        int(pk) for pk in re.findall(r'data-alert="(\d+)"', am1.get("/alerts/").content.decode())
    ]
    assert str(target.pk) in am1.get("/alerts/?status=dismissed").content.decode()
    outcomes = am1.get("/alerts/").content.decode().split('data-kpi="outcomes"')[1]
    assert "False alarm 1" in outcomes.split("</div>")[0]
    am2_html = login("am2").get("/alerts/").content.decode()
    assert [int(pk) for pk in re.findall(r'data-alert="(\d+)"', am2_html)] == [
        Alert.objects.get(customer=book[4]).pk
    ]


def test_notification_count_in_the_header_and_the_list_marks_read(book: Any, people: Any) -> None:
    client = login("am1")
    unread = Notification.objects.filter(user=people.am1, read_at__isnull=True).count()
    assert unread == 4  # one per routed alert
    html = client.get("/").content.decode()
    assert f'data-count="unread">{unread}<' in html
    listing = client.get("/notifications/").content.decode()
    assert listing.count('data-unread="yes"') == unread
    assert not Notification.objects.filter(user=people.am1, read_at__isnull=True).exists()
    assert 'data-count="unread"' not in client.get("/").content.decode()
    assert login("am2").get("/notifications/").content.decode().count("data-unread") == 1
    assert 'data-nav="notifications"' not in Client().get("/login/").content.decode()


def test_team_view_for_managers_with_each_members_queue(book: Any, people: Any) -> None:
    login("am1").post(
        reverse("pages:log-interaction", kwargs={"key": book[0].external_id}),
        {"kind": "visit", "outcome": "retained"},
    )
    page = login("manager").get("/work/team/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/work/?user=am1" in html and "/work/?user=am2" not in html
    work = html.split('data-table="work"')[1]
    assert re.search(r"<td>am1</td><td class=\"num\">1</td>", work)
    assert 'data-table="outcomes"' in html and "Retained" in html
    assert login("am1").get("/work/team/").status_code == 403
    assert login("admin").get("/work/team/").status_code == 200


def test_pages_in_chinese(book: Any) -> None:
    client = login("am1", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "今日工作" in client.get("/work/").content.decode()
    assert "预警" in client.get("/alerts/").content.decode()
    profile = client.get(reverse("pages:customer", kwargs={"key": book[0].external_id}))
    assert "记录一次联系" in profile.content.decode()


class _Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.ids: list[str] = []
        self.inside_label = 0  # a control inside its <label> is labelled by it (implicitly)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "label":
            self.inside_label += 1
            if found.get("for"):
                self.labelled.add(str(found["for"]))
        if tag in {"input", "select", "textarea"} and found.get("type") not in {"hidden", "submit"}:
            if self.inside_label:
                found["implicitly-labelled"] = "yes"
            self.controls.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.inside_label:
            self.inside_label -= 1


def test_every_field_of_the_work_pages_has_a_label_and_ids_are_unique(book: Any) -> None:
    key = book[0].external_id
    client = login("am1")
    urls = ["/work/", "/alerts/", f"/log/{key}/", f"/customers/{key}/", "/notifications/"]
    pages = [(url, client.get(url).content.decode()) for url in urls]
    pages.append(("/work/team/", login("manager").get("/work/team/").content.decode()))
    for url, html in pages:
        parser = _Controls()
        parser.feed(html)
        unlabelled = [
            c
            for c in parser.controls
            if c.get("id") not in parser.labelled and not c.get("implicitly-labelled")
        ]
        assert unlabelled == [], url
        assert len(parser.ids) == len(set(parser.ids)), url


def test_my_work_is_shown_a_page_at_a_time_in_the_queues_order(
    book: Any, people: Any, monkeypatch: Any
) -> None:
    from corecustomers.web.pages import work_views
    from corecustomers.web.work.queue import my_work

    monkeypatch.setattr(work_views, "WORK_PAGE", 2)
    keys = [item.key for item in my_work(people.am1)]
    assert len(keys) >= 4
    client = login("am1")
    first = client.get(reverse("pages:work")).content.decode()
    second = client.get(reverse("pages:work"), {"user": "am1", "page": 2}).content.decode()
    assert work_keys(first) == keys[:2] and work_keys(second) == keys[2:4]
    assert 'data-link="next-page"' in first


def test_a_page_of_my_work_runs_the_checks_of_its_own_items_only(
    book: Any, people: Any, monkeypatch: Any
) -> None:
    """The page and the API read one page of the queue: other apps' ``work_item_checks``
    see that page's items only, and the count and order are the whole queue's."""
    from django.apps import apps

    from corecustomers.web.accounts.models import ApiToken
    from corecustomers.web.pages import work_views
    from corecustomers.web.work.queue import WorkItem, my_work, work_queue

    seen: list[str] = []

    def check(person: Any, items: list[WorkItem], today: dt.date) -> list[WorkItem]:
        seen.extend(i.key for i in items)
        return items

    config = apps.get_app_config("work")
    monkeypatch.setattr(config, "work_item_checks", (check,), raising=False)
    for other in apps.get_app_configs():  # only this check: others' count too
        if other is not config and hasattr(other, "work_item_checks"):
            monkeypatch.setattr(other, "work_item_checks", (), raising=False)
    keys = [i.key for i in my_work(people.am1)]
    assert len(keys) >= 4 and sorted(seen) == sorted(keys)  # the whole queue: all checked
    seen.clear()
    queue = work_queue(people.am1)
    assert len(queue) == len(keys) and seen == []
    assert [i.key for i in queue[1:3]] == keys[1:3] and seen == keys[1:3]
    assert [i.key for i in queue[2:4]] == keys[2:4] and seen == keys[1:4]  # each once
    assert queue == my_work(people.am1)
    seen.clear()
    token = ApiToken.issue(people.am1, scope="read")[1]
    body = (
        Client()
        .get("/api/v1/work?limit=2&offset=1", headers={"Authorization": f"Bearer {token}"})
        .json()
    )
    assert [i["key"] for i in body["items"]] == keys[1:3] and body["count"] == len(keys)
    assert seen == keys[1:3]
    seen.clear()
    monkeypatch.setattr(work_views, "WORK_PAGE", 2)
    second = login("am1").get(reverse("pages:work"), {"page": 2}).content.decode()
    assert work_keys(second) == keys[2:4] == seen
