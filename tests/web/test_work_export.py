"""Interactions written into the workspace's export, read back by the engine through Ibis."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any

import ibis
import pytest
from django.utils import timezone

from corecustomers.store.interactions import (
    contact_recency,
    contacted_since,
    interactions_path,
    read_interactions,
)
from corecustomers.web.customers.models import AccountMember, Analysis, CustomerState
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import run_job
from corecustomers.web.work.export import EXPORT_JOB, export_interactions
from corecustomers.web.work.interactions import log_interaction
from corecustomers.web.work.models import Alert, Interaction
from corecustomers.web.work.routing import route_alerts

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(imported: Path, people: Any) -> list[Any]:
    """am1 owns the three alerted customers with the most at stake; alerts routed."""
    states = list(CustomerState.objects.filter(alert=True).order_by("-value_at_stake", "pk")[:3])
    for state in states:
        AccountMember.objects.create(customer=state.customer, user=people.am1, role="owner")
    route_alerts(Analysis.objects.get().run_id)
    return [s.customer for s in states]


def test_a_burst_of_interactions_queues_one_export_whose_job_writes_them_all(
    owned: Any, people: Any, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WORKSPACE = str(tmp_path)
    settings.TIME_ZONE = "Asia/Shanghai"
    with django_capture_on_commit_callbacks(execute=True):
        log_interaction(people.am1, owned[0], kind="visit", outcome="retained", channel="wechat")
        log_interaction(people.am1, owned[1], kind="call", outcome="not_reachable")
        log_interaction(people.am1, owned[2], kind="complaint", notes="秘密 private notes")
    jobs = Job.objects.filter(kind=EXPORT_JOB)
    assert jobs.count() == 1  # the later ones found it waiting
    job = run_job(str(jobs.get().pk))
    assert job.status == "succeeded", job.error
    assert job.result == {"file": str(interactions_path(tmp_path)), "rows": 3}

    table = read_interactions(tmp_path).order_by("interaction_id").to_pyarrow().to_pylist()
    stored = list(Interaction.objects.order_by("pk").select_related("customer", "alert"))
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    assert [r["interaction_id"] for r in table] == [i.pk for i in stored]
    assert [r["customer_id"] for r in table] == [c.external_id for c in owned]
    assert [r["kind"] for r in table] == ["visit", "call", "complaint"]
    assert [r["outcome"] for r in table] == ["retained", "not_reachable", None]
    assert table[0]["channel"] == "wechat" and table[0]["user"] == "am1"
    for row, interaction in zip(table, stored, strict=True):
        # naive business time, as the transactions' timestamps are
        assert row["at"] == interaction.at.astimezone(shanghai).replace(tzinfo=None)
        assert row["alert_id"] == interaction.alert_id
        alert = Alert.objects.get(pk=interaction.alert_id)
        assert row["alert_reason_code"] == alert.reason_code
        assert row["alert_as_of"] == alert.as_of
        assert row["alert_raised_at"] == alert.raised_at.astimezone(shanghai).replace(tzinfo=None)
    # free text (notes, next steps) stays in the service: it may hold personal data
    assert not {"notes", "next_step"} & set(read_interactions(tmp_path).columns)
    assert "秘密".encode() not in interactions_path(tmp_path).read_bytes()


def test_the_engine_uses_the_export_with_its_own_analysis(
    owned: Any, people: Any, cdnow_analysis: Path, tmp_path: Path
) -> None:
    """Contact recency and "contacted since the alert" for the engine's flagged customers,
    from the engine's own ``customers.parquet`` and the export, in one DuckDB, no Django."""
    log_interaction(people.am1, owned[0], kind="visit", outcome="retained")
    log_interaction(people.am1, owned[1], kind="call", outcome="not_reachable")
    export_interactions(str(tmp_path))

    con = ibis.duckdb.connect()
    customers = con.read_parquet(cdnow_analysis / "customers.parquet")
    interactions = read_interactions(tmp_path, con=con)
    as_of = Analysis.objects.get().as_of
    flagged = customers.filter(customers.alert).select(
        "customer_id", since=ibis.literal(as_of).cast("timestamp")
    )
    answer = {
        row["customer_id"]: row["contacted"]
        for row in contacted_since(interactions, flagged).to_pyarrow().to_pylist()
    }
    assert len(answer) == CustomerState.objects.filter(alert=True).count()
    assert answer[owned[0].external_id] is True
    assert answer[owned[1].external_id] is False  # not reachable: no contact
    assert sum(answer.values()) == 1

    today = timezone.localdate()
    recency = contact_recency(interactions, as_of=today)
    joined = customers.left_join(recency, customers.customer_id == recency.customer_id)
    features = {
        row["customer_id"]: row["days_since_last_contact"]
        for row in joined.select(customers.customer_id, recency.days_since_last_contact)
        .to_pyarrow()
        .to_pylist()
    }
    assert len(features) == customers.count().to_pyarrow().as_py()
    assert features[owned[0].external_id] in {0, 1}  # today (1: across midnight UTC)
    assert [cid for cid, days in features.items() if days is not None] == [owned[0].external_id]


def test_the_export_is_replaced_whole_so_removed_interactions_leave_it(
    owned: Any, people: Any, tmp_path: Path
) -> None:
    first = log_interaction(people.am1, owned[0], kind="visit", outcome="reached")
    log_interaction(people.am1, owned[1], kind="letter")
    assert export_interactions(str(tmp_path))["rows"] == 2
    first.delete()  # e.g. erased on request
    assert export_interactions(str(tmp_path))["rows"] == 1
    ids = read_interactions(tmp_path).interaction_id.to_pyarrow().to_pylist()
    assert ids == [Interaction.objects.get().pk]
    assert sorted(p.name for p in interactions_path(tmp_path).parent.iterdir()) == [
        "interactions.parquet"
    ]
