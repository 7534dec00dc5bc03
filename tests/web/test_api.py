"""The JSON API at /api/v1 through the real app: every endpoint, its errors and conventions."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from corecustomers.web.accounts.models import ApiToken
from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.identity import pseudonym
from corecustomers.web.customers.models import (
    AccountMember,
    Customer,
    CustomerHistory,
    CustomerState,
    TierOverride,
)
from corecustomers.web.experiments.models import Experiment
from corecustomers.web.jobs.models import Job

pytestmark = pytest.mark.django_db

API = "/api/v1"
ODD_IDS = ["A/7", "B 8", "客户/中文 9"]


class Caller:
    """A client that sends one user's bearer token."""

    def __init__(self, user: Any, scope: str = "write", **token: Any) -> None:
        _, self.raw = ApiToken.issue(user, scope=scope, **token)
        self.client = Client()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(API + path, params, headers=self._headers())

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(
            API + path, json.dumps(body), content_type="application/json", headers=self._headers()
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(API + path, headers=self._headers())


def url(customer_id: str) -> str:
    return "/customers/" + quote(customer_id, safe="")


def error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def book(imported: Path, people: Any) -> dict[str, Any]:
    """am1 owns the three top customers and the three with odd ids; am2 the next two."""
    top = list(Customer.objects.order_by("-state__core_score", "pk")[:5])
    odd = [
        Customer.objects.create(
            external_id=cid, pseudonym=pseudonym(cid), name=f"名字{i}", phone=f"1390000000{i}"
        )
        for i, cid in enumerate(ODD_IDS)
    ]
    for customer in [*top[:3], *odd]:
        AccountMember.objects.create(customer=customer, user=people.am1, role="owner")
    for customer in top[3:]:
        AccountMember.objects.create(customer=customer, user=people.am2, role="owner")
    return {"top": top, "odd": odd}


@pytest.fixture
def callers(people: Any) -> dict[str, Caller]:
    return {name: Caller(user) for name, user in people.by_role().items()}


def test_list_is_paginated_filtered_and_scoped(book: Any, callers: Any) -> None:
    admin = callers["admin"].get("/customers", limit=10, offset=5)
    assert admin.status_code == 200
    body = admin.json()
    assert body["count"] == Customer.objects.count()
    assert len(body["items"]) == 10 and body["limit"] == 10 and body["offset"] == 5
    mine = callers["am1"].get("/customers", limit=500).json()
    expected = {c.external_id for c in [*book["top"][:3], *book["odd"]]}
    assert mine["count"] == 6 and {row["key"] for row in mine["items"]} == expected
    strategic = callers["admin"].get("/customers", tier="strategic", sort="-clv", limit=500).json()
    assert strategic["count"] == CustomerState.objects.filter(tier="strategic").count()
    assert all(row["tier"] == "strategic" for row in strategic["items"])
    found = callers["am1"].get("/customers", q="名字2").json()
    assert [row["key"] for row in found["items"]] == ["客户/中文 9"]
    assert callers["am2"].get("/customers", q="名字2").json()["count"] == 0
    assert AuditEntry.objects.filter(action="search", username="am2", row_count=0).exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "name"}, "sort"),
        ({"abc": "D"}, "abc"),
        ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_list_parameters_answer_422_naming_the_field(
    book: Any, callers: Any, params: dict[str, Any], field: str
) -> None:
    response = callers["admin"].get("/customers", **params)
    assert response.status_code == 422
    assert error(response)["field"] == field


def test_profile_by_ids_with_slash_space_and_cjk(book: Any, callers: Any) -> None:
    for customer_id in ODD_IDS:
        response = callers["am1"].get(url(customer_id))
        assert response.status_code == 200, (customer_id, response.content)
        assert response.json()["key"] == customer_id
        history = callers["am1"].get(url(customer_id) + "/history")
        assert history.status_code == 200 and history.json() == {
            "items": [],
            "count": 0,
            "limit": 50,
            "offset": 0,
        }
        assert callers["am2"].get(url(customer_id)).status_code == 404
    customer = book["odd"][0]
    assert AuditEntry.objects.filter(action="view", customer_key=customer.pk).count() == 1


def test_profile_and_history_of_an_analysed_customer(book: Any, callers: Any) -> None:
    customer = book["top"][0]
    body = callers["am1"].get(url(customer.external_id)).json()
    state = CustomerState.objects.get(customer=customer)
    assert body["tier"] == state.tier and body["tier_reason_zh"] == state.tier_reason_zh
    assert body["account_team"] == [{"username": "am1", "full_name": "", "role": "owner"}]
    assert body["can_change"] is True
    history = callers["am1"].get(url(customer.external_id) + "/history").json()
    assert history["count"] == CustomerHistory.objects.filter(customer=customer).count() >= 1
    assert history["items"][0]["tier"] == state.tier


def test_out_of_scope_and_unknown_customers_are_404_with_the_error_body(
    book: Any, callers: Any
) -> None:
    theirs = book["top"][3].external_id
    for path in (url(theirs), url(theirs) + "/history", url("no such id")):
        response = callers["am1"].get(path)
        assert response.status_code == 404
        assert error(response)["code"] == "not_found"


def test_analyst_reaches_customers_by_pseudonym_only_and_sees_no_personal_data(
    book: Any, callers: Any
) -> None:
    customer = book["odd"][2]
    assert callers["analyst"].get(url(customer.external_id)).status_code == 404
    response = callers["analyst"].get(url(customer.pseudonym))
    assert response.status_code == 200
    body = response.json()
    assert body["key"] == customer.pseudonym and body["personal_data_hidden"] is True
    assert body["name"] is None and body["phone"] is None and body["notes"] is None
    assert "名字2" not in response.content.decode()
    listed = callers["analyst"].get("/customers", limit=500).content.decode()
    assert "名字" not in listed and "1390000000" not in listed


def test_csv_export_is_streamed_scoped_and_audited(book: Any, callers: Any) -> None:
    response = callers["am1"].get("/customers.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("key,name,company,phone")
    assert len(lines) == 1 + 6
    assert "客户/中文 9" in text
    assert AuditEntry.objects.get(action="export").row_count == 6
    bad = callers["am1"].get("/customers.csv", relationship="friend")
    assert bad.status_code == 422 and error(bad)["field"] == "relationship"


def test_override_round_trip_through_the_api(book: Any, callers: Any) -> None:
    customer = book["top"][0]
    path = url(customer.external_id) + "/override"
    until = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    put = callers["am1"].put(
        path, {"tier": "strategic", "reason": "signed a 3-year deal", "until": until}
    )
    assert put.status_code == 200, put.content
    assert put.json()["by"] == "am1" and put.json()["pending"] is True
    row = TierOverride.objects.get(customer=customer)
    assert (row.tier, row.by, row.synced) == ("strategic", "am1", False)
    job = Job.objects.get(kind="sync_overrides")
    seen = callers["am1"].get(f"/jobs/{job.pk}")
    assert seen.status_code == 200 and seen.json()["kind"] == "sync_overrides"
    assert callers["am1"].get(url(customer.external_id)).json()["override"]["tier"] == "strategic"
    listed = callers["am1"].get("/customers", q=customer.external_id).json()["items"]
    assert [r["overridden"] for r in listed if r["key"] == customer.external_id] == [True]
    assert callers["am1"].delete(path).status_code == 204
    again = callers["am1"].delete(path)
    assert again.status_code == 404 and error(again)["code"] == "no_override"
    assert AuditEntry.objects.filter(action="override", customer_key=customer.pk).count() == 1
    assert (
        AuditEntry.objects.filter(action="override_removed", customer_key=customer.pk).count() == 1
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tier": "platinum-plus", "reason": "x"}, "tier"),
        ({"tier": "strategic", "reason": "  "}, "reason"),
        ({"tier": "strategic", "reason": "x", "until": "2001-01-01"}, "until"),
        ({"tier": "strategic"}, "reason"),
        ({"tier": "strategic", "reason": "x", "until": "tomorrow"}, "until"),
    ],
)
def test_bad_overrides_answer_422_naming_the_field(
    book: Any, callers: Any, body: dict[str, Any], field: str
) -> None:
    response = callers["admin"].put(url(book["top"][0].external_id) + "/override", body)
    assert response.status_code == 422
    assert error(response)["field"] == field
    assert not TierOverride.objects.exists()


def test_writes_need_a_write_token_and_change_rights(book: Any, people: Any, callers: Any) -> None:
    reader = Caller(people.am1, scope="read")
    customer = book["top"][0]
    for response in (
        reader.put(url(customer.external_id) + "/override", {"tier": "strategic", "reason": "x"}),
        reader.delete(url(customer.external_id) + "/override"),
        reader.put(url(customer.external_id) + "/notes", {"notes": "x"}),
        reader.put(url(customer.external_id) + "/team", {"owner": "am1"}),
    ):
        assert response.status_code == 403
        assert error(response)["code"] == "read_only_token"
    assert reader.get(url(customer.external_id)).status_code == 200
    assert reader.get("/me").json()["scope"] == "read"
    analyst = callers["analyst"].put(url(customer.pseudonym) + "/notes", {"notes": "x"})
    assert analyst.status_code == 403 and error(analyst)["code"] == "forbidden"
    other = callers["am2"].put(url(customer.external_id) + "/notes", {"notes": "x"})
    assert other.status_code == 404
    Customer.objects.filter(pk=customer.pk).update(notes="")
    assert not AuditEntry.objects.filter(action__in=["notes", "override"]).exists()


def test_account_team_and_notes(book: Any, callers: Any) -> None:
    customer = book["top"][1]
    path = url(customer.external_id)
    put = callers["admin"].put(
        path + "/team",
        {
            "owner": "am1",
            "support": ["am2"],
            "sponsor": "manager",
            "team": "East",
            "relationship": "partner",
        },
    )
    assert put.status_code == 200, put.content
    assert put.json() == {
        "owner": "am1",
        "support": ["am2"],
        "sponsor": "manager",
        "team": "East",
        "relationship": "partner",
    }
    assert callers["am2"].get(path).status_code == 200  # support members see the customer
    taken = callers["am2"].put(path + "/team", {**put.json(), "owner": "am2", "support": []})
    assert taken.status_code == 403 and error(taken)["field"] == "owner"
    unknown = callers["admin"].put(path + "/team", {"owner": "nobody"})
    assert unknown.status_code == 422 and error(unknown)["field"] == "owner"
    bad_level = callers["admin"].put(path + "/team", {"relationship": "friend"})
    assert bad_level.status_code == 422 and error(bad_level)["field"] == "relationship"
    notes = callers["am1"].put(path + "/notes", {"notes": "生日送茶叶 · tea for the birthday"})
    assert notes.status_code == 200 and notes.json()["notes"].startswith("生日")
    assert callers["am1"].get(path).json()["notes"] == notes.json()["notes"]
    assert AuditEntry.objects.filter(action="notes", customer_key=customer.pk).count() == 1
    too_long = callers["am1"].put(path + "/notes", {"notes": "x" * 20_001})
    assert too_long.status_code == 422 and error(too_long)["field"] == "notes"


def test_alerts_are_ranked_by_value_at_stake_and_scoped(book: Any, callers: Any) -> None:
    body = callers["admin"].get("/flagged-customers", limit=100).json()
    assert body["count"] == CustomerState.objects.filter(alert=True).count() > 0
    stakes = [item["customer"]["value_at_stake"] or 0.0 for item in body["items"]]
    assert stakes == sorted(stakes, reverse=True)
    assert all(item["customer"]["alert"] for item in body["items"])
    assert any(item["reason_en"] for item in body["items"])
    mine = callers["am1"].get("/flagged-customers", limit=100).json()
    own = {c.external_id for c in [*book["top"][:3], *book["odd"]]}
    assert {item["customer"]["key"] for item in mine["items"]} <= own
    assert (
        mine["count"]
        == CustomerState.objects.filter(alert=True, customer__external_id__in=own).count()
    )


def test_dashboard_and_me(book: Any, callers: Any, imported: Path) -> None:
    summary = json.loads((imported / "summary.json").read_text(encoding="utf-8"))
    board = callers["admin"].get("/dashboard").json()
    assert board["customers"] == summary["customers"]
    assert {t["tier"]: t["customers"] for t in board["tiers"]} == {
        row["tier"]: row["customers"] for row in summary["tiers"]["table"]
    }
    assert callers["am1"].get("/dashboard").json()["customers"] == 3  # the odd ids have no state
    me = callers["manager"].get("/me").json()
    assert me == {
        "username": "manager",
        "full_name": "",
        "role": "manager",
        "teams": ["East"],
        "language": "",
        "sees_personal_data": True,
        "scope": "write",
    }


def test_tokens_that_do_not_authenticate_answer_401(book: Any, people: Any) -> None:
    expired = Caller(people.am1, expires=timezone.now() - dt.timedelta(seconds=1))
    revoked = Caller(people.am1)
    ApiToken.objects.filter(user=people.am1).exclude(expires__isnull=False).update(revoked=True)
    nobody = Client()
    for response in (
        expired.get("/customers"),
        revoked.get("/me"),
        nobody.get(API + "/customers"),
        nobody.get(API + "/dashboard", headers={"Authorization": "Bearer cc_not-a-token"}),
        nobody.put(API + url("A/7") + "/notes", "{}", content_type="application/json"),
    ):
        assert response.status_code == 401
        assert error(response)["code"] == "unauthenticated"


def test_the_session_works_and_needs_csrf_for_writes(book: Any, people: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people.am1)
    assert browser.get(API + "/me").json()["scope"] == "write"
    path = API + url("A/7") + "/notes"
    refused = browser.put(path, json.dumps({"notes": "x"}), content_type="application/json")
    assert refused.status_code == 403
    token = get_random_string(32)  # what a page's form would carry: cookie and header agree
    browser.cookies["csrftoken"] = token
    accepted = browser.put(
        path,
        json.dumps({"notes": "x"}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 200, accepted.content


def test_the_docs_page_loads_swagger_from_our_static_files(people: Any) -> None:
    browser = Client()
    browser.force_login(people.admin)
    page = browser.get(API + "/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/ninja/swagger-ui" in html
    # every script, style sheet and link is on our own site (the page's CSRF token is
    # random text, so a bare "cdn" in the page is no sign of a CDN: it failed once so)
    linked = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert linked and not [u for u in linked if "//" in u or not u.startswith("/")], linked
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets), assets
    for asset in assets:  # served by WhiteNoise from the installed packages, offline
        fetched = browser.get(asset)
        assert fetched.status_code == 200, asset
        body = b"".join(fetched.streaming_content) if fetched.streaming else fetched.content
        assert len(body) > 100, asset
    schema = Client().get(API + "/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert {"401", "403", "404", "422"} <= declared, (method, path)
            if method in {"put", "delete"}:  # the customer writes: a body, a state
                assert {"400", "409"} <= declared, (method, path)


def test_a_retried_post_with_the_same_idempotency_key_creates_one_job(people: Any) -> None:
    caller = Caller(people.admin)
    headers = {**caller._headers(), "Idempotency-Key": "upload-2026-12-05-1"}
    content = "customer_id,name,phone\nA/7,王小明,13800000001\n".encode()

    def upload() -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        return caller.client.post(
            API + "/imports",
            {"file": SimpleUploadedFile("customers.csv", content, "text/csv"), "dry_run": "true"},
            headers=headers,
        )

    first, second = upload(), upload()
    assert first.status_code == 202, first.content
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Job.objects.filter(created_by=people.admin).count() == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/notes", {"notes": "a\x00b"}, "notes"),
        ("/team", {"owner": "am1", "support": ["am2", "x\x00"]}, "support.1"),
        ("/override", {"tier": "strategic", "reason": "\x00"}, "reason"),
    ],
)
def test_nul_characters_answer_422_naming_the_field(
    book: Any, callers: Any, path: str, body: dict[str, Any], field: str
) -> None:
    """PostgreSQL cannot store or search a NUL: refused before any query, on every endpoint."""
    response = callers["admin"].put(url(book["top"][0].external_id) + path, body)
    assert response.status_code == 422
    assert error(response)["field"] == field
    work = callers["admin"].get("/customers", region="\x00")
    assert work.status_code == 422 and error(work)["field"] == "region"


@pytest.mark.parametrize("body", [True, [], 3, "team"])
def test_a_body_that_is_not_a_json_object_is_refused(book: Any, callers: Any, body: Any) -> None:
    """ninja alone would read ``true`` as an empty object and apply every default."""
    response = callers["admin"].put("/experiments/call", body)
    assert response.status_code == 400
    assert "send a JSON object" in error(response)["message"]
    assert not Experiment.objects.exists()


def test_an_unpaired_surrogate_answers_422_naming_the_field(book: Any, callers: Any) -> None:
    """JSON may escape half a surrogate pair ("\\ud800"); PostgreSQL cannot store it."""
    admin = callers["admin"]

    def post(body: dict[str, Any]) -> Any:
        return admin.client.post(
            API + "/events",
            json.dumps(body),
            content_type="application/json",
            headers=admin._headers(),
        )

    body = {"name": "Tea", "starts": "2026-05-01T10:00:00Z", "capacity": 5}
    response = post({**body, "invite_tiers": ["\ud800"]})
    assert response.status_code == 422
    assert error(response)["field"] == "invite_tiers.0"
    assert post(body).status_code == 201


def test_an_events_start_with_any_offset_is_kept_as_the_same_moment(
    book: Any, callers: Any
) -> None:
    """ISO 8601 allows offsets PostgreSQL refuses (beyond +-15:59): stored in UTC instead."""
    admin = callers["admin"]
    body = {"name": "Tea", "starts": "0564-01-04T13:28:38-22:52", "capacity": 5}
    response = admin.client.post(
        API + "/events", json.dumps(body), content_type="application/json", headers=admin._headers()
    )
    assert response.status_code == 201
    assert response.json()["starts"] == "0564-01-05T12:20:38Z"
