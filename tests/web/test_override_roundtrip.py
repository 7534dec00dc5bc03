"""Round trip with the engine: an override made through the API is the one `analyze` keeps.

1. ``analyze`` the CDNOW sample up to 1998-03-31 on the service's workspace and import it
   (the ``import_analysis`` job, as ``corecustomers import-analysis`` runs it); the
   dashboard's counts equal its ``summary.json``.
2. Give a customer an account team and notes; hold another in a tier through
   ``PUT /api/v1/customers/{id}/override``; run the ``sync_overrides`` job that the PUT
   queued: the workspace now has the override, naming who and why.
3. ``analyze`` again, up to the end of the data (a later snapshot), on the same workspace:
   the customer is in the held tier with ``tier_basis == "override"`` and a reason naming
   who and why.
4. Import that analysis: every assignment, note and override is kept, each customer has
   one more point of history, and the dashboard's counts equal the new ``summary.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow.parquet as pq
import pytest
from django.test import Client

from corecustomers.config import Settings
from corecustomers.service import analyze
from corecustomers.store import Workspace
from corecustomers.web.accounts.models import ApiToken
from corecustomers.web.customers.changes import account_team_snapshot, set_account_team, set_notes
from corecustomers.web.customers.models import (
    AccountMember,
    Analysis,
    Customer,
    CustomerHistory,
    CustomerState,
    TierOverride,
)
from corecustomers.web.customers.queries import dashboard
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import run_job, submit

pytestmark = pytest.mark.django_db

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "CDNOW_sample.txt"
COLUMNS = {"customer_id": "1", "timestamp": "3", "amount": "5"}
REASON = "signed a three-year framework contract"


def _analyze(workspace: Path, out: Path, as_of: dt.date | None) -> dict[str, Any]:
    analyze(str(CDNOW), out, Settings(columns=COLUMNS, workspace=str(workspace), as_of=as_of))
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def _import(folder: Path, user: Any) -> Job:
    job, _ = submit("import_analysis", {"folder": str(folder)}, user=user)
    run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return job


def _assert_dashboard_equals(summary: dict[str, Any], user: Any) -> None:
    board = dashboard(user)
    assert board.as_of == dt.date.fromisoformat(summary["as_of"])
    assert board.customers == summary["customers"]
    assert board.revenue == pytest.approx(summary["revenue"])
    assert {t.tier: t.customers for t in board.tiers} == {
        row["tier"]: row["customers"] for row in summary["tiers"]["table"]
    }
    assert board.core_customers == summary["alerts"]["core_customers"]
    assert board.open_alerts == summary["alerts"]["alerted"]
    assert board.value_at_stake == pytest.approx(summary["alerts"]["value_at_stake"])


def test_an_api_override_survives_analyze_and_a_later_import(
    people: Any, settings: Any, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    settings.WORKSPACE = str(workspace)  # the service's workspace: the worker syncs into it

    first = _analyze(workspace, tmp_path / "first", dt.date(1998, 3, 31))
    _import(tmp_path / "first", people.admin)
    _assert_dashboard_equals(first, people.admin)
    n = Customer.objects.count()
    assert n == first["customers"]

    rows = pq.read_table(tmp_path / "first" / "customers.parquet").to_pylist()
    ordered = sorted(rows, key=lambda r: (-(r["core_score"] or 0.0), str(r["customer_id"])))
    assigned = Customer.objects.get(external_id=str(ordered[0]["customer_id"]))
    lowest = first["tiers"]["table"][-1]["tier"]
    held_row = next(r for r in ordered if r["tier"] == lowest)
    held = Customer.objects.get(external_id=str(held_row["customer_id"]))
    top_tier = first["tiers"]["table"][0]["tier"]

    set_account_team(
        people.admin,
        assigned,
        owner="am1",
        support=["am2"],
        sponsor="manager",
        team="East",
        relationship="alliance",
    )
    set_notes(people.admin, assigned, "年底拜访 · visit before year end")
    team_before = account_team_snapshot(assigned)

    _, raw = ApiToken.issue(people.admin, scope="write")
    response = Client().put(
        "/api/v1/customers/" + quote(held.external_id, safe="") + "/override",
        json.dumps({"tier": top_tier, "reason": REASON}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["pending"] is True

    sync = Job.objects.get(kind="sync_overrides")
    run_job(str(sync.pk))
    sync.refresh_from_db()
    assert sync.status == "succeeded", sync.error
    assert sync.result["pushed"] == 1
    assert TierOverride.objects.get(customer=held).synced
    with Workspace.open(str(workspace)) as ws:
        stored = [o for o in ws.overrides() if str(o["customer_id"]) == held.external_id]
    assert [(o["tier"], o["by"], o["reason"]) for o in stored] == [(top_tier, "admin", REASON)]

    second = _analyze(workspace, tmp_path / "second", None)
    assert second["as_of"] > first["as_of"]
    analysed = {
        str(r["customer_id"]): r
        for r in pq.read_table(tmp_path / "second" / "customers.parquet").to_pylist()
    }
    mine = analysed[held.external_id]
    assert mine["tier"] == top_tier
    assert mine["tier_basis"] == "override"
    assert "admin" in mine["tier_reason_en"] and REASON in mine["tier_reason_en"]

    _import(tmp_path / "second", people.admin)
    assert Analysis.objects.count() == 2
    _assert_dashboard_equals(second, people.admin)
    # everything people recorded is kept
    assigned.refresh_from_db()
    assert account_team_snapshot(assigned) == team_before
    assert assigned.notes.startswith("年底拜访")
    assert AccountMember.objects.count() == 3
    override = TierOverride.objects.get(customer=held)
    assert (override.tier, override.by, override.reason, override.removed) == (
        top_tier,
        "admin",
        REASON,
        False,
    )
    state = CustomerState.objects.get(customer=held)
    assert (state.tier, state.tier_basis) == (top_tier, "override")
    assert "admin" in state.tier_reason_en and REASON in state.tier_reason_en
    # one more point of history for every customer, on the later date
    assert CustomerHistory.objects.count() == 2 * n
    later = dt.date.fromisoformat(second["as_of"])
    assert CustomerHistory.objects.filter(as_of=later).count() == n
    points = list(CustomerHistory.objects.filter(customer=held).order_by("as_of"))
    assert [p.tier for p in points] == [lowest, top_tier]
    assert Customer.objects.count() == n
