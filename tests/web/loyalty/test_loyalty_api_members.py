"""The API for what had only functions: the manual member level, gifts, event RSVP.

Through the real app with bearer tokens, per role: the account manager reaches only their
own customers (others are 404, never a hint), the analyst sees pseudonyms and changes
nothing, managers hold a level by hand. Lists are {"items", "count", "limit", "offset"};
every error is the one error body; writes with an ``Idempotency-Key`` replay their first
answer.
"""

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

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.raw}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def get(self, path: str) -> Any:
        return self.client.get(API + path, headers=self._headers(None))

    def post(self, path: str, body: Any, key: str | None = None) -> Any:
        return self.client.post(
            API + path,
            json.dumps(body),
            content_type="application/json",
            headers=self._headers(key),
        )

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(
            API + path,
            json.dumps(body),
            content_type="application/json",
            headers=self._headers(None),
        )


def _owned(people: Any, name: str = "Ada") -> Any:
    from corecustomers.web.customers.models import AccountMember

    c = member(region="east", name=name)
    AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    return c


def _path(key: str, tail: str) -> str:
    return "/customers/" + quote(key, safe="") + tail


def _error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_a_manager_holds_a_level_until_a_date_and_clears_it(people: Any) -> None:
    from corecustomers.web.audit.models import AuditEntry
    from corecustomers.web.loyalty.models import Account, Level

    rules()
    Level.objects.create(code="basic", name_en="Basic", rank=1)
    Level.objects.create(code="gold", name_en="Gold", rank=3)
    c = _owned(people)
    manager, am1, am2 = Caller(people.manager), Caller(people.am1), Caller(people.am2)
    analyst = Caller(people.analyst)
    level = _path(c.external_id, "/level")
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()

    assert am1.get(level).json()["level"] is None
    held = manager.put(level, {"level": "gold", "until": until, "reason": "flagship opening"})
    assert held.status_code == 200, held.content
    assert held.json() == {
        "customer_id": c.external_id,
        "level": "gold",
        "earned_level": None,
        "manual_level": "gold",
        "manual_until": until,
        "level_since": None,
    }
    assert Account.objects.get(customer=c).manual_level.code == "gold"
    audit = AuditEntry.objects.filter(action="level", customer_key=c.pk).get()
    assert audit.message == "flagship opening"
    # the reason is required, a level needs an end date, the level must exist
    no_reason = manager.put(level, {"level": "gold", "until": until, "reason": " "})
    assert no_reason.status_code == 422 and _error(no_reason)["field"] == "reason"
    no_end = manager.put(level, {"level": "gold", "until": None, "reason": "x"})
    assert no_end.status_code == 422 and _error(no_end)["field"] == "until"
    unknown = manager.put(level, {"level": "platinum", "until": until, "reason": "x"})
    assert unknown.status_code == 422 and _error(unknown)["field"] == "level"
    # an account manager may look, not set; another account manager does not see it
    refused = am1.put(level, {"level": "basic", "until": until, "reason": "x"})
    assert refused.status_code == 403 and _error(refused)["code"] == "forbidden"
    assert am2.get(level).status_code == 404
    hidden = am2.put(level, {"level": "basic", "until": until, "reason": "x"})
    assert hidden.status_code == 404 and _error(hidden)["code"] == "not_found"
    # the analyst: by pseudonym only, read-only
    assert analyst.get(level).status_code == 404  # the external id is personal data
    seen = analyst.get(_path(c.pseudonym, "/level")).json()
    assert seen["customer_id"] == c.pseudonym and seen["level"] == "gold"
    by_analyst = analyst.put(_path(c.pseudonym, "/level"), {"level": None, "reason": "x"})
    assert by_analyst.status_code == 403
    # cleared, with its reason, and both changes in the history
    cleared = manager.put(level, {"level": None, "reason": "opening over"})
    assert cleared.status_code == 200
    assert (cleared.json()["level"], cleared.json()["manual_until"]) == (None, None)
    history = am1.get(_path(c.external_id, "/level/history?limit=1")).json()
    assert set(history) == {"items", "count", "limit", "offset"}
    assert history["count"] == 2 and len(history["items"]) == 1
    assert history["items"][0]["reason"] == "manual"
    assert AuditEntry.objects.filter(action="level", customer_key=c.pk).count() == 2
    assert am2.get(_path(c.external_id, "/level/history")).status_code == 404


def test_a_gift_is_given_once_per_key_from_stock_and_recorded(people: Any) -> None:
    from corecustomers.web.audit.models import AuditEntry
    from corecustomers.web.loyalty.models import Account, Gift, Level
    from corecustomers.web.work.models import Interaction

    rules()
    gold = Level.objects.create(code="gold", name_en="Gold", rank=3, gifts="Tea set")
    c = _owned(people)
    Account.objects.create(customer=c, level=gold)
    tea = Gift.objects.create(name="Tea set", cost=88, stock=2)
    am1, am2, analyst = Caller(people.am1), Caller(people.am2), Caller(people.analyst)
    gifts = _path(c.external_id, "/gifts")

    listed = am1.get("/gifts?limit=5").json()
    assert listed == {
        "items": [{"id": tea.pk, "name": "Tea set", "cost": 88.0, "stock": 2}],
        "count": 1,
        "limit": 5,
        "offset": 0,
    }
    first = am1.post(gifts, {"gift_id": tea.pk, "reason": "birthday"}, key="g1")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["stock"], body["level"], body["replayed"]) == (1, "gold", False)
    again = am1.post(gifts, {"gift_id": tea.pk, "reason": "birthday"}, key="g1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["interaction_id"] == body["interaction_id"] and again.json()["replayed"]
    assert Gift.objects.get(pk=tea.pk).stock == 1  # the replay took nothing
    reused = am1.post(gifts, {"gift_id": tea.pk + 1000}, key="g1")
    assert reused.status_code == 422 and _error(reused)["code"] == "idempotency_key_reused"
    nokey = am1.post(gifts, {"gift_id": tea.pk})
    assert nokey.status_code == 422 and _error(nokey)["field"] == "Idempotency-Key"
    unknown = am1.post(gifts, {"gift_id": tea.pk + 1000}, key="g2")
    assert unknown.status_code == 422 and _error(unknown)["field"] == "gift_id"
    assert am1.post(gifts, {"gift_id": tea.pk}, key="g3").status_code == 201
    empty = am1.post(gifts, {"gift_id": tea.pk}, key="g4")
    assert empty.status_code == 409 and _error(empty)["code"] == "out_of_stock"
    # out of scope: 404; the analyst: 403 by pseudonym, 404 by the external id
    assert am2.post(gifts, {"gift_id": tea.pk}, key="g5").status_code == 404
    by_pseudonym = _path(c.pseudonym, "/gifts")
    assert analyst.post(by_pseudonym, {"gift_id": tea.pk}, key="g6").status_code == 403
    assert analyst.post(gifts, {"gift_id": tea.pk}, key="g7").status_code == 404
    # recorded: on the timeline and in the audit log, with the member's level
    assert Interaction.objects.filter(customer=c, kind="gift").count() == 2
    audit = AuditEntry.objects.filter(action="gift", customer_key=c.pk).order_by("pk")
    assert [a.after["level"] for a in audit] == ["gold", "gold"]
    assert audit[0].message == "birthday"


def test_rsvp_through_the_api_per_role_with_idempotency(people: Any) -> None:
    from corecustomers.web.loyalty.models import Account, Invitation, Level

    rules()
    basic = Level.objects.create(code="basic", name_en="Basic", rank=1)
    ada, bo = _owned(people, "Ada"), _owned(people, "Bo")
    for c in (ada, bo):
        Account.objects.create(customer=c, level=basic)
    manager, am1, am2 = Caller(people.manager), Caller(people.am1), Caller(people.am2)
    analyst = Caller(people.analyst)
    made = manager.post(
        "/events",
        {"name": "Tea tasting", "starts": "2030-05-01T18:00:00Z", "capacity": 1,
         "invite_levels": ["basic"]},
    )  # fmt: skip
    assert made.status_code == 201, made.content
    event = made.json()["id"]
    rsvp = f"/events/{event}/rsvp"

    yes = am1.post(rsvp, {"customer_id": ada.external_id, "answer": "yes"}, key="r1")
    assert yes.status_code == 200, yes.content
    assert yes.json() == {
        "event_id": event,
        "customer_id": ada.external_id,
        "rsvp": "yes",
        "attended": False,
        "replayed": False,
    }
    replay = am1.post(rsvp, {"customer_id": ada.external_id, "answer": "yes"}, key="r1")
    assert replay["Idempotent-Replayed"] == "true" and replay.json()["replayed"] is True
    reused = am1.post(rsvp, {"customer_id": ada.external_id, "answer": "no"}, key="r1")
    assert reused.status_code == 422 and _error(reused)["code"] == "idempotency_key_reused"
    full = am1.post(rsvp, {"customer_id": bo.external_id, "answer": "yes"}, key="r2")
    assert full.status_code == 409 and _error(full)["code"] == "event_full"
    nokey = am1.post(rsvp, {"customer_id": bo.external_id, "answer": "no"})
    assert nokey.status_code == 422 and _error(nokey)["field"] == "Idempotency-Key"
    bad = am1.post(rsvp, {"customer_id": bo.external_id, "answer": "maybe"}, key="r3")
    assert bad.status_code == 422
    assert am1.post(f"/events/{event + 99}/rsvp", {"customer_id": bo.external_id,
                    "answer": "no"}, key="r4").status_code == 404  # fmt: skip
    # am2: the event invites nobody of theirs, the customers are not theirs
    assert (
        am2.post(rsvp, {"customer_id": ada.external_id, "answer": "no"}, key="r5").status_code
        == 404
    )
    assert am2.get(f"/events/{event}/invitations").status_code == 404
    # an invited customer of am1's, but not this event's: 404
    other = _owned(people, "Cy")
    lone = am1.post(rsvp, {"customer_id": other.external_id, "answer": "yes"}, key="r6")
    assert lone.status_code == 404
    # the lists: am1 sees its two, the analyst pseudonyms only and may not answer
    mine = am1.get(f"/events/{event}/invitations").json()
    assert set(mine) == {"items", "count", "limit", "offset"} and mine["count"] == 2
    assert {i["customer_id"] for i in mine["items"]} == {ada.external_id, bo.external_id}
    seen = analyst.get(f"/events/{event}/invitations").json()
    assert {i["customer_id"] for i in seen["items"]} == {ada.pseudonym, bo.pseudonym}
    by_analyst = analyst.post(rsvp, {"customer_id": bo.pseudonym, "answer": "no"}, key="r7")
    assert by_analyst.status_code == 403
    assert Invitation.objects.get(customer=ada).rsvp == "yes"
    assert Invitation.objects.get(customer=bo).rsvp == "invited"


def test_the_schema_declares_the_new_operations() -> None:
    from corecustomers.web.api.app import api

    paths = api.get_openapi_schema()["paths"]
    assert {"get", "put"} <= set(paths["/api/v1/customers/{customer_id}/level"])
    assert "get" in paths["/api/v1/customers/{customer_id}/level/history"]
    assert "get" in paths["/api/v1/gifts"]
    gift = paths["/api/v1/customers/{customer_id}/gifts"]["post"]
    assert {201, 401, 403, 404, 409, 422} <= {int(code) for code in gift["responses"]}
    rsvp = paths["/api/v1/events/{event_id}/rsvp"]["post"]
    assert {200, 404, 409, 422} <= {int(code) for code in rsvp["responses"]}
    assert "get" in paths["/api/v1/events/{event_id}/invitations"]
