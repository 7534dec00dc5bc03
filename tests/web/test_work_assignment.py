"""Bulk assignment (round-robin within a maximum book size, dry run first) and the hand-over
of a whole book when someone leaves -- every open item moves with it, audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from corecustomers.web.accounts.models import User
from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.models import (
    AccountMember,
    Analysis,
    Customer,
    CustomerState,
    ServiceSetting,
)
from corecustomers.web.work.assignment import (
    AssignmentError,
    AssignmentFilter,
    AssignmentForbiddenError,
    bulk_assign,
    hand_over_book,
)
from corecustomers.web.work.interactions import log_interaction
from corecustomers.web.work.models import Alert, FollowUp, Snooze
from corecustomers.web.work.queue import my_work, snooze
from corecustomers.web.work.routing import route_alerts

pytestmark = pytest.mark.django_db


@pytest.fixture
def east(imported: Path, people: Any) -> dict[str, Any]:
    """The strategic customers: ten in region east (unowned), am1 owns one more; am3 joins East."""
    strategic = list(
        CustomerState.objects.filter(tier="strategic")
        .order_by("-value_at_stake", "customer_id")
        .values_list("customer_id", flat=True)
    )
    in_region = strategic[:10]
    Customer.objects.filter(pk__in=in_region).update(region="east")
    owned = Customer.objects.get(pk=strategic[10])
    owned.region = "east"
    owned.save()
    AccountMember.objects.create(customer=owned, user=people.am1, role="owner")
    west = Customer.objects.get(pk=strategic[11])
    west.region = "west"
    west.save()
    am3 = User.objects.create(username="am3", role="account_manager", email="am3@example.com")
    people.east.members.add(am3)
    ServiceSetting.objects.create(key="max_book_size", value=3)
    route_alerts(Analysis.objects.get().run_id)
    return {"ids": in_region, "owned": owned, "west": west, "am3": am3}


def _ordered(ids: list[int]) -> list[str]:
    rows = Customer.objects.filter(pk__in=ids).select_related("state")
    ranked = sorted(rows, key=lambda c: (-(c.state.value_at_stake or 0.0), c.external_id))
    return [c.external_id for c in ranked]


def test_dry_run_then_apply_round_robin_within_the_book_size(east: Any, people: Any) -> None:
    flt = AssignmentFilter(tier="strategic", region="east")
    members, audits = AccountMember.objects.count(), AuditEntry.objects.count()
    plan = bulk_assign(people.manager, flt, ["am1", "am3"])
    assert (plan.applied, plan.matched, plan.max_book) == (False, 10, 3)
    assert (AccountMember.objects.count(), AuditEntry.objects.count()) == (members, audits)
    # am1 owns one already (room 2), am3 none (room 3): five of the ten, the most at stake
    expected = _ordered(east["ids"])[:5]
    assert [m.external_id for m in plan.moves] == expected
    assert [m.to for m in plan.moves] == ["am1", "am3", "am1", "am3", "am3"]
    assert plan.left_over == 5 and plan.books == {"am1": (1, 3), "am3": (0, 3)}

    done = bulk_assign(people.manager, flt, ["am1", "am3"], dry_run=False)
    assert done.applied and [m.external_id for m in done.moves] == expected
    owners = dict(
        AccountMember.objects.filter(role="owner", customer__external_id__in=expected).values_list(
            "customer__external_id", "user__username"
        )
    )
    assert owners == {m.external_id: m.to for m in done.moves}
    for move in done.moves:  # their open alerts went with them (were the lead's or nobody's)
        for alert in Alert.objects.filter(customer_id=move.customer_id, status="open"):
            assert alert.assignee.username == move.to
    entries = AuditEntry.objects.filter(action="assign", username="manager")
    assert entries.count() == 5 and {e.after["owner"] for e in entries} == {"am1", "am3"}
    summary = AuditEntry.objects.get(action="bulk_assign")
    assert summary.row_count == 5 and summary.query["region"] == "east"
    again = bulk_assign(people.manager, flt, ["am1", "am3"], dry_run=False)
    assert again.moves == [] and again.matched == 5  # the books are full; nothing twice


def test_who_may_assign_and_to_whom(east: Any, people: Any) -> None:
    flt = AssignmentFilter(tier="strategic")
    with pytest.raises(AssignmentForbiddenError):
        bulk_assign(people.am1, flt, ["am1"])
    with pytest.raises(AssignmentForbiddenError):
        bulk_assign(people.analyst, flt, ["am1"])
    with pytest.raises(AssignmentError) as refused:
        bulk_assign(people.manager, flt, ["am2"])  # West: not the manager's team
    assert refused.value.field == "assignees"
    with pytest.raises(AssignmentError) as unknown:
        bulk_assign(people.manager, flt, ["nobody"])
    assert unknown.value.field == "assignees"
    with pytest.raises(AssignmentError):
        bulk_assign(people.manager, flt, [])
    ServiceSetting.objects.filter(key="max_book_size").update(value=1000)
    plan = bulk_assign(people.manager, flt, ["am3"])
    reach = set(Customer.objects.restrict(people.manager, "assign").values_list("pk", flat=True))
    assert {m.customer_id for m in plan.moves} <= reach
    assert east["west"].pk not in {m.customer_id for m in plan.moves}
    everyone = bulk_assign(people.admin, flt, ["am2", "am3"])
    assert east["west"].pk in {m.customer_id for m in everyone.moves}


def test_hand_over_of_a_whole_book_moves_every_open_item(east: Any, people: Any) -> None:
    ServiceSetting.objects.filter(key="max_book_size").update(value=1000)
    bulk_assign(people.manager, AssignmentFilter(region="east"), ["am1"], dry_run=False)
    book = list(AccountMember.objects.filter(user=people.am1, role="owner"))
    supported = Customer.objects.get(pk=east["ids"][0])
    AccountMember.objects.create(customer=east["west"], user=people.am1, role="support")
    log_interaction(people.am1, supported, kind="complaint", notes="late")  # a follow-up
    first = next(i for i in my_work(people.am1) if i.kind == "alert")
    snooze(people.am1, first.key, until=timezone.localdate() + dt.timedelta(days=5), reason="x")
    open_alerts = set(
        Alert.objects.filter(assignee=people.am1, status__in=("open", "in_progress")).values_list(
            "pk", flat=True
        )
    )
    assert open_alerts and FollowUp.objects.filter(owner=people.am1, done_at=None).exists()

    plan = hand_over_book(people.manager, "am1", ["am3", "manager"])
    assert not plan.applied and plan.alerts == len(open_alerts) and plan.snoozes == 1
    assert AccountMember.objects.filter(user=people.am1).count() == len(book) + 1  # unchanged

    done = hand_over_book(people.manager, "am1", ["am3", "manager"], dry_run=False)
    assert done.applied and done.left_over == 0
    assert not AccountMember.objects.filter(user=people.am1).exists()
    assert not Alert.objects.filter(assignee=people.am1, status__in=("open", "in_progress"))
    assert not FollowUp.objects.filter(owner=people.am1, done_at=None).exists()
    assert my_work(people.am1) == []
    new_owner = {
        m.customer_id: m.user.username
        for m in AccountMember.objects.filter(customer_id__in=[b.customer_id for b in book])
    }
    assert set(new_owner.values()) == {"am3", "manager"}  # round-robin over the two
    for alert in Alert.objects.filter(pk__in=open_alerts):  # each with its customer's owner
        assert alert.assignee.username == new_owner[alert.customer_id]
    moved = Snooze.objects.get(item=first.key)
    assert (
        moved.user.username == new_owner[Alert.objects.get(pk=first.key.split(":")[1]).customer_id]
    )
    assert AccountMember.objects.get(customer=east["west"], role="support").user.username in {
        "am3",
        "manager",
    }
    assert AuditEntry.objects.filter(action="hand_over_book", object_type="customer").count() == (
        len(done.moves)
    )
    summary = AuditEntry.objects.get(action="hand_over_book", object_type="user")
    assert summary.username == "manager" and summary.before == {"user": "am1"}


def test_a_hand_over_that_does_not_fit_the_books_is_refused(east: Any, people: Any) -> None:
    ServiceSetting.objects.filter(key="max_book_size").update(value=1000)
    bulk_assign(people.manager, AssignmentFilter(region="east"), ["am1"], dry_run=False)
    owned = AccountMember.objects.filter(user=people.am1, role="owner").count()
    ServiceSetting.objects.filter(key="max_book_size").update(value=2)
    plan = hand_over_book(people.manager, "am1", ["am3"])
    assert plan.left_over == owned - 2
    with pytest.raises(AssignmentError) as refused:
        hand_over_book(people.manager, "am1", ["am3"], dry_run=False)
    assert refused.value.field == "to" and "max_book_size" in str(refused.value)
    assert AccountMember.objects.filter(user=people.am1, role="owner").count() == owned
    with pytest.raises(AssignmentError) as outside:
        hand_over_book(people.manager, "am2", ["am3"])  # am2 is West's
    assert outside.value.field == "from"
    with pytest.raises(AssignmentError):
        hand_over_book(people.manager, "am1", ["am1"])


def _post(user: Any, path: str, body: dict[str, Any], scope: str = "write") -> Any:
    import json

    from django.test import Client

    from corecustomers.web.accounts.models import ApiToken

    token = ApiToken.issue(user, scope=scope)[1]
    return Client().post(
        "/api/v1" + path,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_api_answers_the_plan_and_writes_it_only_when_asked(east: Any, people: Any) -> None:
    body = {"tier": "strategic", "region": "east", "assignees": ["am1", "am3"]}
    preview = _post(people.manager, "/assignments", body, scope="read")
    assert preview.status_code == 200, preview.content
    plan = preview.json()
    assert (plan["applied"], plan["matched"], plan["assigned"], plan["left_over"]) == (
        False,
        10,
        5,
        5,
    )
    assert [i["to"] for i in plan["items"]] == ["am1", "am3", "am1", "am3", "am3"]
    assert plan["items"][0]["customer_id"] == _ordered(east["ids"])[0]
    assert {b["user"]: (b["before"], b["after"]) for b in plan["books"]} == {
        "am1": (1, 3),
        "am3": (0, 3),
    }
    assert not AccountMember.objects.filter(user=east["am3"]).exists()
    assert (
        _post(people.manager, "/assignments", {**body, "dry_run": False}, "read").status_code == 403
    )
    applied = _post(people.manager, "/assignments", {**body, "dry_run": False})
    assert applied.json()["applied"] is True
    assert AccountMember.objects.filter(user=east["am3"], role="owner").count() == 3
    assert _post(people.am1, "/assignments", body).status_code == 403
    bad = _post(people.manager, "/assignments", {**body, "assignees": ["am2"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "assignees"

    ServiceSetting.objects.filter(key="max_book_size").update(value=1000)
    handover = {"from": "am1", "to": ["am3"]}
    seen = _post(people.manager, "/handovers", handover).json()
    assert seen["applied"] is False and seen["customers"] == 3 and seen["leaver"] == "am1"
    assert AccountMember.objects.filter(user=people.am1).count() == 3
    moved = _post(people.manager, "/handovers", {**handover, "dry_run": False}).json()
    assert moved["applied"] is True and not AccountMember.objects.filter(user=people.am1).exists()
    assert _post(east["am3"], "/handovers", handover).status_code == 403  # an account manager
    outside = _post(people.manager, "/handovers", {"from": "am2", "to": ["am3"]})
    assert outside.status_code == 422 and outside.json()["error"]["field"] == "from"
    assert _post(people.analyst, "/assignments", body).status_code == 403
    admin = _post(people.admin, "/assignments", {"assignees": ["am2"], "tier": "strategic"})
    assert admin.status_code == 200  # administrators assign anyone


def test_the_page_previews_then_applies_each_form(east: Any, people: Any) -> None:
    from django.test import Client

    page = Client()
    page.force_login(people.manager)
    shown = page.get("/work/assign/")
    assert shown.status_code == 200
    html = shown.content.decode()
    assert 'data-form="bulk"' in html and 'data-form="hand-over"' in html
    assert 'value="am2"' not in html  # West's member is not offered to East's manager
    form = {"form": "bulk", "tier": "strategic", "region": "east", "assignees": ["am1", "am3"]}
    preview = page.post("/work/assign/", form)
    assert preview.status_code == 200
    body = preview.content.decode()
    assert 'data-plan="bulk"' in body and body.count('data-move="am3"') == 3
    assert not AccountMember.objects.filter(user=east["am3"]).exists()  # a preview only
    done = page.post("/work/assign/", {**form, "apply": "1"}, follow=True)
    assert "5 customers assigned." in done.content.decode()
    assert AccountMember.objects.filter(user=east["am3"], role="owner").count() == 3

    refused = page.post("/work/assign/", {**form, "assignees": ["am2"]})
    assert refused.status_code == 400 and 'class="field-error"' in refused.content.decode()

    ServiceSetting.objects.filter(key="max_book_size").update(value=1000)
    hand = {"form": "hand_over", "leaver": "am1", "to": ["am3"]}
    seen = page.post("/work/assign/", hand)
    assert 'data-plan="hand-over"' in seen.content.decode()
    assert AccountMember.objects.filter(user=people.am1).count() == 3
    page.post("/work/assign/", {**hand, "apply": "1"})
    assert not AccountMember.objects.filter(user=people.am1).exists()

    for name in ("am1", "analyst"):
        other = Client()
        other.force_login(getattr(people, name))
        assert other.get("/work/assign/").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people.manager)
    assert strict.post("/work/assign/", {**form, "apply": "1"}).status_code == 403


def test_the_page_in_chinese(east: Any, people: Any) -> None:
    from django.test import Client

    page = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    page.force_login(people.manager)
    html = page.get("/work/assign/").content.decode()
    assert "分配客户" in html and "移交整个客户簿" in html and "每人最多负责 3 位客户" in html
    form = {"form": "bulk", "tier": "strategic", "region": "east", "assignees": ["am1", "am3"]}
    preview = page.post("/work/assign/", form).content.decode()
    assert "符合条件的客户：10。将分配：5。" in preview
