"""The points API and loyalty's pages through the real app: shapes, errors, scope, audit;
the profile and dashboard panels, events with invitations, RSVP and attendance."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from tests.web.loyalty.loyalty_helpers import member, rules

pytestmark = pytest.mark.django_db
API = "/api/v1"


class Caller:
    def __init__(self, user: Any) -> None:
        from corecustomers.web.accounts.models import ApiToken

        _, self.raw = ApiToken.issue(user, scope="write")
        self.client = Client()

    def get(self, path: str) -> Any:
        return self.client.get(API + path, headers={"Authorization": f"Bearer {self.raw}"})

    def post(self, path: str, body: Any, key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.raw}"}
        if key:
            headers["Idempotency-Key"] = key
        return self.client.post(
            API + path, json.dumps(body), content_type="application/json", headers=headers
        )


def _owned(people: Any) -> Any:
    from corecustomers.web.customers.models import AccountMember

    c = member(region="east", name="Ada")
    AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    return c


def points(c: Any) -> str:
    return "/customers/" + quote(c.external_id, safe="") + "/points"


def test_points_api_shapes_errors_scope_and_audit(people: Any) -> None:
    from corecustomers.web.audit.models import AuditEntry

    rules()
    c = _owned(people)
    am1, am2, analyst = Caller(people.am1), Caller(people.am2), Caller(people.analyst)
    first = am1.post(points(c), {"kind": "earn", "points": 100, "order_id": "A1"}, key="k1")
    assert first.status_code == 201, first.content
    assert first.json()["balance"]["available"] == 100
    replay = am1.post(points(c), {"kind": "earn", "points": 100, "order_id": "A1"}, key="k1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["movement_id"] == first.json()["movement_id"]
    over = am1.post(points(c), {"kind": "redeem", "points": 101}, key="k2")
    assert over.status_code == 409 and over.json()["error"]["code"] == "insufficient_points"
    nokey = am1.post(points(c), {"kind": "redeem", "points": 1})
    assert nokey.status_code == 422 and nokey.json()["error"]["field"] == "Idempotency-Key"
    again = am1.post(points(c), {"kind": "earn", "points": 5, "order_id": "A1"}, key="k3")
    assert again.status_code == 409  # an order earns once
    assert (
        am1.post(points(c), {"kind": "adjust", "points": 5, "reason": "x"}, key="k4").status_code
        == 403
    )
    manager = Caller(people.manager)
    adj = manager.post(points(c), {"kind": "adjust", "points": -10, "reason": "typo"}, key="k5")
    assert adj.status_code == 201 and adj.json()["balance"]["available"] == 90
    got = am1.get(points(c)).json()
    assert got == {
        "customer_id": c.external_id,
        "available": 90,
        "pending": 0,
        "used": 0,
        "expired": 0,
        "owed": 0,
        "lifetime_earned": 100,
        "level": None,
    }
    entries = am1.get(points(c) + "/entries").json()
    assert set(entries) == {"items", "count", "limit", "offset"} and entries["count"] == 4
    # out of scope: 404, never a hint that the customer exists
    assert am2.get(points(c)).status_code == 404
    assert am2.post(points(c), {"kind": "redeem", "points": 1}, key="z").status_code == 404
    assert am2.get(points(c) + "/entries").status_code == 404
    # the analyst reaches the customer by pseudonym, read-only
    by_pseudonym = "/customers/" + quote(c.pseudonym, safe="") + "/points"
    assert analyst.get(by_pseudonym).json()["customer_id"] == c.pseudonym
    assert analyst.post(by_pseudonym, {"kind": "redeem", "points": 1}, key="a").status_code == 403
    assert AuditEntry.objects.filter(action__startswith="points_", customer_key=c.pk).count() == 2
    liability = Caller(people.admin).get("/loyalty/liability").json()
    assert (liability["outstanding"], liability["scope"]) == (90, "programme")
    assert am2.get("/loyalty/liability").json()["outstanding"] == 0


def test_the_schema_declares_the_loyalty_answers() -> None:
    from corecustomers.web.api.app import api

    schema = api.get_openapi_schema()
    post = schema["paths"]["/api/v1/customers/{customer_id}/points"]["post"]
    assert {201, 401, 403, 404, 409, 422} <= {int(code) for code in post["responses"]}
    assert "/api/v1/loyalty/liability" in schema["paths"]
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/events"])


def test_panels_events_rsvp_and_attendance(people: Any, imported: Any) -> None:
    from corecustomers.web.customers.models import AccountMember, Customer
    from corecustomers.web.loyalty import ledger
    from corecustomers.web.loyalty.models import Level
    from corecustomers.web.work.models import Interaction

    rules()
    Level.objects.create(
        code="basic", name_en="Basic", name_zh="普通会员", rank=1, gifts="mooncakes"
    )
    c = Customer.objects.order_by("pk").first()
    assert c is not None
    Customer.objects.filter(pk=c.pk).update(region="east")
    AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    ledger.earn(c, 250, key="e")
    from corecustomers.web.loyalty.levels import evaluate

    evaluate()
    browser = Client()
    browser.force_login(people.am1)
    page = browser.get(f"/customers/{quote(c.external_id, safe='')}/")
    html = page.content.decode()
    assert 'data-panel="loyalty"' in html and "250" in html and "mooncakes" in html
    form = browser.post(f"/loyalty/points/{c.pk}/", {"kind": "redeem", "points": "50", "key": "f1"})
    assert form.status_code == 302
    browser.post(f"/loyalty/points/{c.pk}/", {"kind": "redeem", "points": "50", "key": "f1"})
    assert ledger.balance(c).available == 200  # the double submit counted once
    other = Client()
    other.force_login(people.am2)
    assert (
        other.post(f"/loyalty/points/{c.pk}/", {"kind": "redeem", "points": "1"}).status_code == 404
    )
    # Chinese
    zh = browser.get(f"/customers/{quote(c.external_id, safe='')}/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "普通会员" in zh.content.decode() and "会员与积分" in zh.content.decode()
    # the dashboard's tier × level table
    boss = Client()
    boss.force_login(people.admin)
    assert 'data-table="tier-level"' in boss.get("/").content.decode()
    # an event for the basic level; am1 answers and records attendance
    mgr = Client()
    mgr.force_login(people.manager)
    made = mgr.post(
        "/loyalty/events/",
        {
            "name": "Tea tasting",
            "starts": "2030-05-01T18:00",
            "capacity": "1",
            "cost": "20",
            "tiers": "",
            "levels": "basic",
            "segments": "",
        },
    )
    assert made.status_code == 302, made.content.decode()[:2000]
    event_url = made["Location"]
    assert browser.post(event_url, {"customer": c.pk, "action": "yes"}).status_code == 302
    assert browser.post(event_url, {"customer": c.pk, "action": "attended"}).status_code == 302
    assert Interaction.objects.filter(customer=c, kind="event").count() == 1
    assert (
        "Tea tasting"
        in browser.get(f"/customers/{quote(c.external_id, safe='')}/").content.decode()
    )
    assert other.get(event_url).status_code == 404  # am2 has nobody invited
    api = Caller(people.manager).get("/events").json()
    assert api["count"] == 1 and api["items"][0]["attended"] == 1
    assert (
        Caller(people.am1)
        .post("/events", {"name": "x", "starts": "2030-01-01T10:00:00Z", "capacity": 5})
        .status_code
        == 403
    )
    _ = dt


def test_a_gift_leaves_stock_and_is_on_the_timeline(people: Any) -> None:
    from corecustomers.web.loyalty.events import EventError, give_gift
    from corecustomers.web.loyalty.models import Gift
    from corecustomers.web.work.models import Interaction

    c = _owned(people)
    gift = Gift.objects.create(name="Tea set", cost=88, stock=1)
    give_gift(people.am1, gift.pk, c)
    assert Gift.objects.get(pk=gift.pk).stock == 0
    assert Interaction.objects.filter(customer=c, kind="gift").count() == 1
    with pytest.raises(EventError):  # out of stock
        give_gift(people.am1, gift.pk, c)
    with pytest.raises(EventError):  # not am2's customer
        give_gift(people.am2, gift.pk, c)
    assert Interaction.objects.filter(customer=c, kind="gift").count() == 1
