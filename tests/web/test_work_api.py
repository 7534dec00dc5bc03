"""The account team's API through the real app: interactions (idempotent), My work, routed
alerts and notifications -- their shapes, errors and scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from corecustomers.web.accounts.models import ApiToken
from corecustomers.web.customers.identity import pseudonym
from corecustomers.web.customers.models import AccountMember, Analysis, Customer, CustomerState
from corecustomers.web.work.models import Alert, Interaction, Notification
from corecustomers.web.work.routing import route_alerts

pytestmark = pytest.mark.django_db

API = "/api/v1"


class Caller:
    """A client that sends one user's bearer token."""

    def __init__(self, user: Any, scope: str = "write") -> None:
        _, self.raw = ApiToken.issue(user, scope=scope)
        self.client = Client()

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw}", **extra}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(API + path, params, headers=self.headers())

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(
            API + path,
            json.dumps(body),
            content_type="application/json",
            headers=self.headers(**headers),
        )

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(
            API + path, json.dumps(body), content_type="application/json", headers=self.headers()
        )


def error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return body["error"]


def interactions(customer_id: str) -> str:
    return "/customers/" + quote(customer_id, safe="") + "/interactions"


@pytest.fixture
def book(imported: Path, people: Any) -> list[Customer]:
    """am1 owns the four alerted customers with the most at stake (team East), am2 the fifth."""
    states = list(CustomerState.objects.filter(alert=True).order_by("-value_at_stake", "pk")[:5])
    for state in states[:4]:
        AccountMember.objects.create(customer=state.customer, user=people.am1, role="owner")
        state.customer.team = people.east
        state.customer.save()
    AccountMember.objects.create(customer=states[4].customer, user=people.am2, role="owner")
    route_alerts(Analysis.objects.get().run_id)
    return [s.customer for s in states]


@pytest.fixture
def callers(people: Any) -> dict[str, Caller]:
    return {name: Caller(user) for name, user in people.by_role().items()}


def test_logging_a_retained_visit_resolves_the_alert(book: Any, callers: Any) -> None:
    top = book[0]
    alert = Alert.objects.get(customer=top)
    response = callers["am1"].post(
        interactions(top.external_id),
        {"kind": "visit", "channel": "in_person", "outcome": "retained", "notes": "tea"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customer_id"] == top.external_id and body["user"] == "am1"
    assert body["alerts_resolved"] == [alert.pk]
    alert.refresh_from_db()
    assert alert.status == "resolved"
    listed = callers["am1"].get(interactions(top.external_id)).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == body["id"]
    queue = callers["am1"].get("/work").json()
    assert top.external_id not in {i["customer_id"] for i in queue["items"] if i["kind"] == "alert"}


def test_idempotency_key_answers_the_first_interaction(book: Any, callers: Any) -> None:
    path = interactions(book[1].external_id)
    first = callers["am1"].post(path, {"kind": "call"}, **{"Idempotency-Key": "k-1"})
    again = callers["am1"].post(path, {"kind": "call"}, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    other = callers["am1"].post(path, {"kind": "call"}, **{"Idempotency-Key": "k-2"})
    assert other.json()["id"] != first.json()["id"]
    assert Interaction.objects.filter(customer=book[1]).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "fax"}, "kind"),
        ({"kind": "visit", "outcome": "delighted"}, "outcome"),
        ({"kind": "visit", "next_step": "send the offer"}, "next_step_due"),
        ({"kind": "visit", "at": "2999-01-01T00:00:00Z"}, "at"),
        ({"kind": "visit", "notes": "a\u0000b"}, "notes"),
        ({"outcome": "reached"}, "kind"),
    ],
)
def test_invalid_interactions_are_422_with_the_field(
    book: Any, callers: Any, body: dict[str, Any], field: str
) -> None:
    response = callers["am1"].post(interactions(book[0].external_id), body)
    assert response.status_code == 422
    assert error(response)["field"] == field
    assert not Interaction.objects.exists()


def test_scope_of_interactions(book: Any, callers: Any, people: Any) -> None:
    key = book[0].external_id
    assert callers["am2"].get(interactions(key)).status_code == 404
    denied = callers["am2"].post(interactions(key), {"kind": "visit"})
    assert denied.status_code == 404 and error(denied)["code"] == "not_found"
    read_only = Caller(people.am1, scope="read").post(interactions(key), {"kind": "visit"})
    assert read_only.status_code == 403 and error(read_only)["code"] == "read_only_token"
    analyst = callers["analyst"].post(interactions(book[0].pseudonym), {"kind": "visit"})
    assert analyst.status_code == 403
    assert (
        Client().post(API + interactions(key), "{}", content_type="application/json").status_code
        == 401
    )
    assert not Interaction.objects.exists()
    assert callers["manager"].post(interactions(key), {"kind": "call"}).status_code == 201


def test_an_odd_customer_id_reaches_its_interactions(people: Any, callers: Any) -> None:
    odd = Customer.objects.create(external_id="客户/中文 9", pseudonym=pseudonym("客户/中文 9"))
    AccountMember.objects.create(customer=odd, user=people.am1, role="owner")
    response = callers["am1"].post(interactions(odd.external_id), {"kind": "message"})
    assert response.status_code == 201 and response.json()["customer_id"] == "客户/中文 9"


def test_work_holds_only_own_customers_and_members_for_their_manager(
    book: Any, callers: Any
) -> None:
    mine = callers["am1"].get("/work", limit=500).json()
    assert mine["user"] == "am1" and mine["count"] >= 4
    own = {c.external_id for c in book[:4]}
    assert {i["customer_id"] for i in mine["items"]} <= own
    alerts = [i for i in mine["items"] if i["kind"] == "alert"]
    assert [i["customer_id"] for i in alerts] == [
        a.customer.external_id
        for a in Alert.objects.filter(customer__in=book[:4]).order_by("-value_at_stake", "pk")
    ]
    assert all(
        set(i) >= {"kind", "customer_id", "reason", "due"} and i["reason"] for i in mine["items"]
    )
    theirs = callers["am2"].get("/work", limit=500).json()
    assert {i["customer_id"] for i in theirs["items"]} <= {book[4].external_id}
    assert callers["manager"].get("/work", user="am1", limit=500).json()["items"] == mine["items"]
    assert callers["manager"].get("/work", user="am2").status_code == 404
    assert callers["am2"].get("/work", user="am1").status_code == 404
    assert callers["am1"].get("/work", user="nobody").status_code == 404
    page = callers["am1"].get("/work", limit=1, offset=1).json()
    assert page["items"] == mine["items"][1:2] and page["count"] == mine["count"]


def test_routed_alerts_list_and_patch(book: Any, callers: Any, people: Any) -> None:
    mine = callers["am1"].get("/alerts", limit=100).json()
    expected = Alert.objects.filter(customer__in=book[:4]).order_by("-value_at_stake", "pk")
    assert [a["id"] for a in mine["items"]] == [a.pk for a in expected]
    first = mine["items"][0]
    assert first["status"] == "open" and first["assignee"] == "am1" and first["due"]
    assert first["escalated"] is False
    assert [a["id"] for a in callers["am2"].get("/alerts").json()["items"]] == [
        Alert.objects.get(customer=book[4]).pk
    ]
    target = expected[0].pk
    assert callers["am1"].get(f"/alerts/{target}").json() == first  # one alert, same shape
    assert callers["am2"].get(f"/alerts/{target}").status_code == 404
    assert callers["am2"].patch(f"/alerts/{target}", {"status": "in_progress"}).status_code == 404
    missing = callers["am1"].patch(f"/alerts/{target}", {"status": "resolved"})
    assert missing.status_code == 422 and error(missing)["field"] == "outcome"
    bad = callers["am1"].patch(f"/alerts/{target}", {"status": "open"})
    assert bad.status_code == 422 and error(bad)["field"] == "status"
    done = callers["am1"].patch(
        f"/alerts/{target}", {"status": "dismissed", "outcome": "false_alarm", "note": "paid"}
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["outcome"]) == ("dismissed", "false_alarm")
    assert "paid" in done.json()["note"]
    again = callers["am1"].patch(f"/alerts/{target}", {"status": "in_progress"})
    assert again.status_code == 422
    assert target not in [a["id"] for a in callers["am1"].get("/alerts").json()["items"]]
    dismissed = callers["am1"].get("/alerts", status="dismissed").json()["items"]
    assert [a["id"] for a in dismissed] == [target]
    assert callers["am1"].patch("/alerts/999999", {"status": "in_progress"}).status_code == 404
    reader = Caller(people.am1, scope="read").patch(
        f"/alerts/{expected[1].pk}", {"status": "in_progress"}
    )
    assert reader.status_code == 403


def test_notifications_are_the_callers_own(book: Any, callers: Any, people: Any) -> None:
    body = callers["am1"].get("/notifications").json()
    assert body["count"] == body["unread"] == 4
    assert {n["customer_id"] for n in body["items"]} == {c.external_id for c in book[:4]}
    assert all(n["message"] and n["message_zh"] and not n["read"] for n in body["items"])
    Notification.objects.filter(user=people.am1).update(read_at="2026-01-01T00:00:00Z")
    assert callers["am1"].get("/notifications", unread="true").json()["count"] == 0
    assert callers["am2"].get("/notifications").json()["count"] == 1
    assert callers["analyst"].get("/notifications").json()["count"] == 0
    assert Client().get(API + "/notifications").status_code == 401


def test_the_schema_declares_the_errors() -> None:
    from corecustomers.web.api.app import api

    paths = api.get_openapi_schema()["paths"]
    for path, method in [
        ("/api/v1/customers/{customer_id}/interactions", "post"),
        ("/api/v1/work", "get"),
        ("/api/v1/alerts", "get"),
        ("/api/v1/alerts/{alert_id}", "patch"),
        ("/api/v1/flagged-customers", "get"),
        ("/api/v1/notifications", "get"),
    ]:
        declared = {str(code) for code in paths[path][method]["responses"]}
        assert {"401", "403", "404", "422"} <= declared, (path, declared)


def test_every_new_list_within_each_roles_scope(book: Any, callers: Any) -> None:
    east = {a.pk for a in Alert.objects.filter(customer__in=book[:4])}
    every = set(Alert.objects.values_list("pk", flat=True))

    def alert_ids(role: str) -> set[int]:
        body = callers[role].get("/alerts", status="all", limit=500).json()
        assert body["count"] == len(body["items"])
        return {a["id"] for a in body["items"]}

    assert alert_ids("admin") == every
    assert alert_ids("manager") == east  # East's customers, not am2's (West)
    assert alert_ids("am1") == east
    assert alert_ids("am2") == {Alert.objects.get(customer=book[4]).pk}  # own customer only
    assert len(every) > len(east) + 1  # the unowned alerts reach no account manager
    analyst = callers["analyst"].get("/alerts", limit=500).json()["items"]
    assert {a["customer_id"] for a in analyst} <= set(
        Customer.objects.values_list("pseudonym", flat=True)
    )  # analysts see pseudonyms only
    assert callers["analyst"].get("/work").json()["items"] == []
    listed = callers["am2"].get(interactions(book[4].external_id))
    assert listed.status_code == 200 and listed.json()["count"] == 0
