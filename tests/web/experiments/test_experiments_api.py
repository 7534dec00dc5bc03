"""The experiments' API: GET /uplift over the caller's scope, hold-outs set up by managers
only, bad input named by field, responses declared in OpenAPI."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from corecustomers.web.customers.models import (
    AccountMember,
    Customer,
    CustomerHistory,
    CustomerState,
)
from corecustomers.web.experiments.holdout import split
from corecustomers.web.experiments.models import Experiment

pytestmark = pytest.mark.django_db


def test_uplift_and_experiments_by_api(people: Any, client: Any) -> None:
    base = dt.date(2026, 6, 1)
    customers = []
    for i in range(40):
        c = Customer.objects.create(
            external_id=f"A{i}", pseudonym=f"pa{i}", region="east" if i < 20 else "west"
        )
        CustomerState.objects.create(customer=c, as_of=base, run_id="r0", tier="key",
                                     total_spend=100.0, n_orders=1)  # fmt: skip
        customers.append(c)
    client.force_login(people.manager)
    put = client.put(
        "/api/v1/experiments/action:offer",
        {"kind": "mass", "cost_per_action": 3},
        content_type="application/json",
    )
    assert put.status_code == 200, put.content
    assert put.json()["holdout_share"] == 0.10 and put.json()["enabled"] is True
    bad = client.put(
        "/api/v1/experiments/action:offer", {"window_days": 0}, content_type="application/json"
    )
    assert bad.status_code == 422 and set(bad.json()) == {"error"}
    split(Experiment.objects.get(), customers)
    for n, c in enumerate(customers):
        CustomerHistory.objects.create(customer=c, as_of=base + dt.timedelta(days=30), tier="key",
                                       total_spend=100.0 + 10 * (n % 5))  # fmt: skip
    uplift = client.get("/api/v1/uplift?action=action:offer").json()["items"]
    # the manager leads team East (region east): only its 20 customers count
    assert [(r["tier"], r["treated"] + r["held_out"]) for r in uplift] == [("key", 20)]
    assert uplift[0]["cost"] == 3.0 * uplift[0]["treated"]
    client.force_login(people.admin)
    everyone = client.get("/api/v1/uplift").json()["items"]
    assert everyone[0]["treated"] + everyone[0]["held_out"] == 40 and everyone[0]["held_out"] == 4
    assert client.get("/api/v1/uplift?action=nope").status_code == 404
    assert client.get("/api/v1/uplift?days=0").status_code == 422
    listed = client.get("/api/v1/experiments").json()["items"]
    assert [(e["code"], e["assigned"]) for e in listed] == [("action:offer", 40)]

    AccountMember.objects.create(customer=customers[0], user=people.am1, role="owner")
    client.force_login(people.am1)
    assert client.get("/api/v1/uplift").status_code == 403
    client.force_login(people.analyst)
    assert client.get("/api/v1/uplift").status_code == 200
    no = client.put("/api/v1/experiments/x", {"kind": "mass"}, content_type="application/json")
    assert no.status_code == 403


def test_the_uplift_endpoints_declare_their_responses(client: Any, people: Any) -> None:
    client.force_login(people.admin)
    spec = client.get("/api/v1/openapi.json").json()
    assert {"200", "401", "403", "404", "422"} <= set(
        spec["paths"]["/api/v1/uplift"]["get"]["responses"]
    )
    assert "409" in spec["paths"]["/api/v1/experiments/{code}"]["put"]["responses"]
