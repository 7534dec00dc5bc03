"""A running job keeps its heartbeat while its handler works, and its own worker never
takes it for dead.

A handler that reports no progress for longer than the lease (one long write, say) used to
look dead: the worker's own watcher queued it again while it was still running, and a
second worker could start it twice (seen as a flaky master-data kill test under load).
Runs on SQLite and, in the PostgreSQL pass, on PostgreSQL (committed rows: the heartbeat
thread has its own connection).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from corecustomers.web.jobs import runner
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import lease, recover_stale_jobs, register, run_job

pytestmark = pytest.mark.django_db(transaction=True)

SILENT = 1.5  # seconds the handler reports nothing: more than three leases of 0.4 s


@pytest.fixture
def silent_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A job kind whose handler is silent for SILENT seconds, then looks at its own row."""
    monkeypatch.setenv("CORECUSTOMERS_JOB_LEASE", "0.4")
    seen: dict[str, Any] = {}

    def handler(job: Job, progress: runner.JobProgress) -> dict[str, Any]:
        time.sleep(SILENT)
        row = Job.objects.get(pk=job.pk)
        seen["status"], seen["heartbeat"] = row.status, row.heartbeat
        seen["stale_by_lease"] = recover_stale_jobs(lease=lease())
        seen["stale_by_zero"] = recover_stale_jobs(lease=dt.timedelta(0))
        seen["status_after"] = Job.objects.get(pk=job.pk).status
        return {"ok": True}

    register("test_silent", handler)
    try:
        yield seen
    finally:
        runner._HANDLERS.pop("test_silent", None)


def test_a_silent_handler_keeps_its_heartbeat_and_is_not_queued_again(
    silent_kind: dict[str, Any],
) -> None:
    job = Job.objects.create(kind="test_silent", params={})
    finished = run_job(str(job.pk))

    started = Job.objects.get(pk=job.pk).started
    assert started is not None
    # the heartbeat moved on while the handler said nothing (every quarter lease: 0.1 s)
    assert silent_kind["heartbeat"] - started > dt.timedelta(seconds=SILENT / 2)
    # neither the lease nor a zero lease makes this process queue its own running job again
    assert silent_kind["stale_by_lease"] == []
    assert silent_kind["stale_by_zero"] == []
    assert silent_kind["status"] == silent_kind["status_after"] == "running"
    assert finished.status == "succeeded"
    assert Job.objects.get(pk=job.pk).attempts == 1


def test_a_job_that_another_process_left_running_is_still_recovered() -> None:
    """The exclusion is this process's own jobs only: a dead worker's job comes back."""
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    job = Job.objects.create(
        kind="import_analysis", params={}, status="running", attempts=1, heartbeat=old
    )
    assert str(job.pk) in recover_stale_jobs(lease=dt.timedelta(minutes=2))
    assert Job.objects.get(pk=job.pk).status == "queued"


def test_a_fresh_beat_file_keeps_a_job_whose_row_cannot_be_beaten(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On SQLite a long write keeps the row from being beaten; the runner's beat file beside
    the database stands for it. Fresh: the job is alive; as old as the row: it is not."""
    monkeypatch.setattr(runner, "beat_file", lambda pk: tmp_path / "beats" / str(pk))
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    job = Job.objects.create(
        kind="import_analysis", params={}, status="running", attempts=1, heartbeat=old
    )
    beat = tmp_path / "beats" / str(job.pk)
    beat.parent.mkdir()
    beat.touch()
    beaten = runner.last_beat(job.pk, old)
    assert beaten is not None and beaten > old
    assert recover_stale_jobs(lease=dt.timedelta(minutes=2)) == []
    assert Job.objects.get(pk=job.pk).status == "running"

    stale = old.timestamp()
    os.utime(beat, (stale, stale))
    assert str(job.pk) in recover_stale_jobs(lease=dt.timedelta(minutes=2))
    assert Job.objects.get(pk=job.pk).status == "queued"
    assert not beat.exists()  # recovered: its beat file is gone with it


def test_the_beat_file_lies_beside_a_sqlite_file_only() -> None:
    def database(vendor: str, name: str, in_memory: bool = False) -> SimpleNamespace:
        return SimpleNamespace(
            vendor=vendor, settings_dict={"NAME": name}, is_in_memory_db=lambda: in_memory
        )

    sqlite = database("sqlite", "/srv/shop/service.sqlite3")
    assert runner.beat_file("42", sqlite) == Path("/srv/shop/service.sqlite3-beats/42")
    assert runner.beat_file("42", database("sqlite", ":memory:", in_memory=True)) is None
    assert runner.beat_file("42", database("postgresql", "shop")) is None
