"""The service's foundation: analysis import, restrict(), the audit trail, jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corecustomers.web.access import RestrictedQuerySet
from corecustomers.web.audit.models import AuditEntry, AuditError
from corecustomers.web.customers.analysis_import import import_analysis
from corecustomers.web.customers.models import (
    AccountMember,
    Analysis,
    Customer,
    CustomerHistory,
    CustomerState,
)
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import run_job, submit

pytestmark = pytest.mark.django_db


def test_import_copies_every_customer_and_the_summary(cdnow_analysis: Path) -> None:
    result = import_analysis(cdnow_analysis)
    table = pq.read_table(cdnow_analysis / "customers.parquet")
    summary = json.loads((cdnow_analysis / "summary.json").read_text(encoding="utf-8"))
    assert result.customers == table.num_rows == Customer.objects.count()
    assert CustomerState.objects.count() == table.num_rows
    assert CustomerHistory.objects.count() == table.num_rows
    tiers = {row["tier"]: row["customers"] for row in summary["tiers"]["table"]}
    for tier, count in tiers.items():
        assert CustomerState.objects.filter(tier=tier).count() == count
    assert Analysis.objects.get().summary["run_id"] == summary["run_id"]
    # one customer, field by field
    row = table.slice(0, 1).to_pylist()[0]
    state = CustomerState.objects.get(customer__external_id=row["customer_id"])
    assert state.tier == row["tier"]
    assert state.core_score == pytest.approx(row["core_score"])
    assert state.tier_reason_zh == row["tier_reason_zh"]


def test_import_twice_changes_nothing(cdnow_analysis: Path) -> None:
    import_analysis(cdnow_analysis)
    again = import_analysis(cdnow_analysis)
    assert again.already_imported
    assert Analysis.objects.count() == 1
    assert AuditEntry.objects.filter(action="import").count() == 1


def test_an_interrupted_import_completes_when_run_again(
    cdnow_analysis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corecustomers.web.customers import analysis_import

    monkeypatch.setattr(analysis_import, "CHUNK", 500)
    calls = {"n": 0}
    real = analysis_import._load_chunk

    def failing(*args: object) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker died")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(analysis_import, "_load_chunk", failing)
    with pytest.raises(RuntimeError):
        import_analysis(cdnow_analysis)
    assert not Analysis.objects.exists()  # not marked done
    assert Customer.objects.count() == 1000  # the two chunks before the failure
    monkeypatch.setattr(analysis_import, "_load_chunk", real)
    import_analysis(cdnow_analysis)
    table = pq.read_table(cdnow_analysis / "customers.parquet")
    assert Customer.objects.count() == CustomerState.objects.count() == table.num_rows
    assert Analysis.objects.count() == 1


def test_restrict_scopes_customers_by_role(imported: Path, people) -> None:  # type: ignore[no-untyped-def]
    customers = list(Customer.objects.order_by("pk")[:6])
    mine, theirs, east, west = customers[0], customers[1], customers[2], customers[3]
    AccountMember.objects.create(customer=mine, user=people.am1, role="owner")
    AccountMember.objects.create(customer=theirs, user=people.am2, role="owner")
    east.region = "east"
    east.save()
    west.team = people.west
    west.save()

    def ids(user: object, action: str = "view") -> set[int]:
        return set(Customer.objects.restrict(user, action).values_list("pk", flat=True))  # type: ignore[arg-type]

    everyone = set(Customer.objects.values_list("pk", flat=True))
    assert ids(people.admin) == everyone
    assert ids(people.analyst) == everyone
    assert ids(people.analyst, "change") == set()
    assert ids(people.am1) == {mine.pk}
    assert ids(people.am2) == {theirs.pk}
    assert ids(people.manager) == {east.pk}  # region east through team East
    assert ids(people.am1, "assign") == set()
    from django.contrib.auth.models import AnonymousUser

    assert ids(AnonymousUser()) == set()
    people.am1.is_active = False
    assert ids(people.am1) == set()
    # related rows follow the customer
    states = CustomerState.objects.restrict(people.am2, "view")
    assert isinstance(states, RestrictedQuerySet)
    assert list(states.values_list("customer_id", flat=True)) == [theirs.pk]


def test_unassigned_customers_for_account_managers_only_when_the_setting_allows(
    imported: Path,
    people,  # type: ignore[no-untyped-def]
) -> None:
    from corecustomers.web.customers.models import ServiceSetting

    first = Customer.objects.order_by("pk").first()
    assert first is not None
    AccountMember.objects.create(customer=first, user=people.am1, role="owner")
    assert Customer.objects.restrict(people.am2).count() == 0
    ServiceSetting.objects.create(key="account_managers_see_unassigned", value=True)
    assert Customer.objects.restrict(people.am2).count() == Customer.objects.count() - 1


def test_audit_entries_cannot_be_changed_or_deleted(people) -> None:  # type: ignore[no-untyped-def]
    from corecustomers.web.audit.log import record

    entry = record("view", object_type="customer", object_key=1, customer_key=1, user=people.am1)
    assert entry.username == "am1"
    entry.message = "edited"
    with pytest.raises(AuditError):
        entry.save()
    with pytest.raises(AuditError):
        entry.delete()
    assert AuditEntry.objects.restrict(people.manager).count() == 0
    assert AuditEntry.objects.restrict(people.admin).count() == 1


def test_a_job_runs_once_and_reports_its_result(
    cdnow_analysis: Path,
    people,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        job, created = submit(
            "import_analysis",
            {"folder": str(cdnow_analysis)},
            user=people.admin,
            idempotency_key="k1",
        )
        same, created_again = submit(
            "import_analysis",
            {"folder": str(cdnow_analysis)},
            user=people.admin,
            idempotency_key="k1",
        )
    assert created and not created_again and same.pk == job.pk
    run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.result["customers"] == Customer.objects.count()
    assert job.progress == 1.0
    run_job(str(job.pk))  # a second delivery is a no-op
    job.refresh_from_db()
    assert job.attempts == 1
    assert Job.objects.restrict(people.am1).count() == 0
    assert Job.objects.restrict(people.admin).count() == 1


def test_a_failing_job_says_why(people) -> None:  # type: ignore[no-untyped-def]
    job, _ = submit("import_analysis", {"folder": "/nonexistent"}, user=people.admin)
    run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == "failed"
    assert "summary.json" in job.error
