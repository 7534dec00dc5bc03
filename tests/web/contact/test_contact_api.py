"""The contact API through the real app: GET/PUT a customer's consents, GET /outbox -- their
shapes, errors, OpenAPI responses and each role's scope (out of scope: 404)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from contact_helpers import customer, grant
from django.test import Client

from corecustomers.web.accounts.models import ApiToken
from corecustomers.web.contact.models import ConsentEvent, OutboxMessage
from corecustomers.web.contact.outbox import plan_messages
from corecustomers.web.customers.models import AccountMember

pytestmark = pytest.mark.django_db

API = "/api/v1"


class Caller:
    def __init__(self, user: Any, scope: str = "write") -> None:
        _, raw = ApiToken.issue(user, scope=scope)
        self.headers = {"Authorization": f"Bearer {raw}"}
        self.client = Client()

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(API + path, params, headers=self.headers)

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(
            API + path, json.dumps(body), content_type="application/json", headers=self.headers
        )


@pytest.fixture
def book(people: Any) -> dict[str, Any]:
    """A (East, owned by am1) and B (West, owned by am2), each with one planned message."""
    a = customer("A1", team=people.east)
    b = customer("B1", team=people.west)
    AccountMember.objects.create(customer=a, user=people.am1, role="owner")
    AccountMember.objects.create(customer=b, user=people.am2, role="owner")
    grant(a, "care", "email")
    plan_messages([a, b], purpose="care", channels=["email"], template="birthday")
    return {"a": a, "b": b}


def test_put_records_answers_with_evidence_and_get_reads_them(
    book: dict[str, Any], people: Any
) -> None:
    am1 = Caller(people.am1)
    body = {
        "consents": [
            {
                "purpose": "marketing",
                "channel": "sms",
                "status": "granted",
                "source": "web form",
                "wording_version": "2026-01",
                "evidence": "form 7",
            },
            {
                "purpose": "sensitive_data",
                "channel": "any",
                "status": "granted",
                "source": "web form",
            },
        ],
        "do_not_contact": {"active": False, "reason": ""},
    }
    answer = am1.put("/customers/A1/consents", body)
    assert answer.status_code == 200, answer.content
    got = answer.json()
    assert got["customer_id"] == "A1" and got["do_not_contact"] is False
    current = {(c["purpose"], c["channel"]): c for c in got["consents"]}
    assert current[("marketing", "sms")]["status"] == "granted"
    assert current[("marketing", "sms")]["wording_version"] == "2026-01"
    assert current[("marketing", "sms")]["recorded_by"] == "am1"
    assert current[("care", "email")]["source"] == "test"
    assert got["history"][0]["evidence"] in {"form 7", ""}
    assert am1.get("/customers/A1/consents").json()["consents"] == got["consents"]
    # PIPL: marketing on the contract basis is refused, naming the field
    bad = am1.put(
        "/customers/A1/consents",
        {
            "consents": [
                {
                    "purpose": "marketing",
                    "channel": "email",
                    "status": "granted",
                    "lawful_basis": "contract",
                    "source": "contract",
                }
            ]
        },
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "lawful_basis"
    unknown = am1.put(
        "/customers/A1/consents",
        {
            "consents": [
                {"purpose": "marketing", "channel": "pigeon", "status": "granted", "source": "x"}
            ]
        },
    )
    assert unknown.status_code == 422 and "channel" in unknown.json()["error"]["message"]
    naive = am1.put(
        "/customers/A1/consents",
        {
            "consents": [
                {
                    "purpose": "care",
                    "channel": "sms",
                    "status": "granted",
                    "source": "x",
                    "at": "2026-03-01T10:00:00",
                }
            ]
        },
    )
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "at"
    assert ConsentEvent.objects.filter(customer=book["a"]).count() == 3
    dnc = am1.put("/customers/A1/consents", {"do_not_contact": {"active": True, "reason": "asked"}})
    assert dnc.json()["do_not_contact"] is True and dnc.json()["do_not_contact_reason"] == "asked"


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("admin", {"A1", "B1"}),
        ("manager", {"A1"}),
        ("am1", {"A1"}),
        ("am2", {"B1"}),
        ("analyst", set()),
    ],
)
def test_each_role_reaches_only_its_customers(
    book: dict[str, Any], people: Any, role: str, visible: set[str]
) -> None:
    caller = Caller(people.by_role()[role])
    outbox = caller.get("/outbox")
    assert outbox.status_code == 200
    assert {m["customer_id"] for m in outbox.json()["items"]} == visible
    for key in ("A1", "B1"):
        status = caller.get(f"/customers/{key}/consents").status_code
        assert status == (200 if key in visible else 404), (role, key)
    if role != "analyst":
        status = caller.put(
            f"/customers/{'B1' if 'B1' not in visible else 'A1'}/consents", {"consents": []}
        ).status_code
        assert status == (404 if role != "admin" else 200)


def test_the_outbox_says_why_a_message_is_held(book: dict[str, Any], people: Any) -> None:
    admin = Caller(people.admin)
    held = admin.get("/outbox", status="held").json()
    (item,) = held["items"]
    assert (item["customer_id"], item["reason_code"]) == ("B1", "no_consent")
    assert item["reason"] == "No consent to care by e-mail."
    assert item["reason_zh"] == "客户未同意通过电子邮件接收关怀联系。"
    queued = admin.get("/outbox", status="queued").json()["items"][0]
    m = OutboxMessage.objects.get(pk=queued["id"])
    assert queued["message_id"] == f"<{m.dedup_key}@localhost>"
    assert admin.get("/outbox", status="nonsense").status_code == 422
    read_only = Caller(people.am1, scope="read")
    assert read_only.put("/customers/A1/consents", {"consents": []}).status_code == 403


def test_openapi_declares_the_contact_operations_and_their_errors() -> None:
    schema = Client().get(API + "/openapi.json").json()
    consents = next(v for k, v in schema["paths"].items() if k.endswith("/consents"))
    for method in ("get", "put"):
        assert {"200", "401", "404", "422"} <= set(consents[method]["responses"])
    assert {"200", "401", "422"} <= set(schema["paths"]["/api/v1/outbox"]["get"]["responses"])


def test_get_work_lists_care_and_plan_items_held_with_the_reason(people: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from corecustomers.web.customers.models import CustomerState

    soon = timezone.localdate() + dt.timedelta(days=2)
    c = customer("S1", birthday=soon.replace(year=1970))
    AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    CustomerState.objects.create(
        customer=c, as_of=timezone.localdate(), run_id="r", tier="strategic"
    )
    from corecustomers.web.work.models import Interaction

    # called 20 days ago: within the cadence (30 days), but the plan's visit (90) is due
    Interaction.objects.create(
        customer=c, kind="call", at=timezone.now() - dt.timedelta(days=20), user=people.am1
    )
    items = Caller(people.am1).get("/work").json()["items"]
    kinds = {i["kind"]: i for i in items}
    assert {"birthday", "plan"} <= set(kinds) and "cadence" not in kinds
    assert kinds["plan"]["key"].startswith("plan:visit:")
    assert kinds["birthday"]["held"] is True
    assert kinds["birthday"]["held_reason"] == "No consent to care by SMS."
    assert kinds["plan"]["held"] is False  # a service call rests on the contract
