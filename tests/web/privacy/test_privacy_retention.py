"""Retention: the worker's scheduler applies each kind's period once a day; moving the clock
past a period blanks or removes exactly what is older, and the run is audited."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from tests.web.privacy.privacy_helpers import ERASED_ID, NAME, Caller, plant


@pytest.mark.django_db
def test_moving_the_clock_applies_each_rule_through_the_scheduler(
    people: Any,
    tmp_path: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django.utils import timezone

    from corecustomers.web.audit.models import AuditEntry
    from corecustomers.web.jobs.runner import run_job
    from corecustomers.web.privacy.retention import JOB, apply_retention
    from corecustomers.web.sources.models import Source
    from corecustomers.web.sources.schedule import tick_periodic
    from corecustomers.web.work.models import Interaction

    folder = tmp_path / ".corecustomers"
    settings.SERVICE_FOLDER = folder
    settings.UPLOAD_FOLDER = folder / "uploads"
    settings.TIME_ZONE = "UTC"
    monkeypatch.delenv("CORECUSTOMERS_OUTBOX_FOLDER", raising=False)
    monkeypatch.setenv("CORECUSTOMERS_RETAIN_OUTBOX_DAYS", "0")  # kept for ever
    planted = plant(people)
    talk = Interaction.objects.get(customer=planted.customer)
    assert NAME in talk.notes
    (folder / "uploads" / "sources").mkdir(parents=True)
    upload = folder / "uploads" / "a1.csv"
    upload.write_text("customer_id,name\nC1,x\n", encoding="utf-8")
    in_use = folder / "uploads" / "sources" / "b2.csv"
    in_use.write_text("customer_id,amount\nC1,1\n", encoding="utf-8")
    Source.objects.create(name="shop", kind="file", file_path=str(in_use))
    older, newest = folder / "analyses" / "shop" / "1", folder / "analyses" / "shop" / "2"
    for run in (older, newest):
        run.mkdir(parents=True)
        (run / "quarantine.csv").write_text(f"{ERASED_ID},bad\n", encoding="utf-8")
    stamp = timezone.now().timestamp()
    os.utime(older, (stamp - 60, stamp - 60))
    (folder / "outbox").mkdir()
    (folder / "outbox" / "m1.json").write_text("{}", encoding="utf-8")

    # today nothing is old enough
    today = apply_retention()
    assert {kind: v["changed"] for kind, v in today.items()} == {
        "interactions": 0, "raw_uploads": 0, "analyses": 0, "outbox": 0,
    }  # fmt: skip

    # five years and a day later: the scheduler's daily run at 03:00 applies the rules
    later = timezone.now() + dt.timedelta(days=1827)
    with django_capture_on_commit_callbacks(execute=True):
        queued = [j for j in tick_periodic(later) if j.kind == JOB]
    assert len(queued) == 1 and queued[0].params["due"].endswith("03:00:00+00:00")
    with django_capture_on_commit_callbacks(execute=True):
        done = run_job(str(queued[0].pk))
    assert done.status == "succeeded", done.error
    result = done.result
    assert result["interactions"]["changed"] == 1
    assert result["raw_uploads"]["changed"] == 1
    assert result["analyses"]["changed"] == 1
    assert result["outbox"] == {"days": 0, "changed": 0}
    talk.refresh_from_db()
    assert talk.notes == "" and talk.kind == "call"  # the contact still counts
    assert not upload.exists() and in_use.exists()
    assert not older.exists() and newest.exists()
    assert (folder / "outbox" / "m1.json").exists()
    entry = AuditEntry.objects.filter(action=JOB).latest("pk")
    assert entry.after["interactions"]["changed"] == 1
    # again on the same day: nothing left to do
    assert apply_retention(later)["interactions"]["changed"] == 0


@pytest.mark.django_db
def test_the_rules_are_shown_to_administrators_only(
    people: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORECUSTOMERS_RETAIN_RAW_UPLOADS_DAYS", "30")
    answer = Caller(people.admin, scope="read").get("/privacy/retention")
    assert answer.status_code == 200, answer.content
    by_kind = {r["kind"]: r for r in answer.json()}
    assert by_kind["interactions"]["days"] == 1826
    assert by_kind["raw_uploads"] == {
        "kind": "raw_uploads",
        "days": 30,
        "default_days": 90,
        "setting": "CORECUSTOMERS_RETAIN_RAW_UPLOADS_DAYS",
        "what": by_kind["raw_uploads"]["what"],
    }
    for user in (people.manager, people.am1, people.analyst):
        assert Caller(user, scope="read").get("/privacy/retention").status_code == 403


def test_a_bad_period_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from corecustomers.errors import ConfigError
    from corecustomers.web.privacy.retention import RULES

    monkeypatch.setenv("CORECUSTOMERS_RETAIN_INTERACTIONS_DAYS", "five years")
    with pytest.raises(ConfigError, match="CORECUSTOMERS_RETAIN_INTERACTIONS_DAYS"):
        RULES[0].days()
