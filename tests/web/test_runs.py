"""Runs of a registered source: a later run keeps what people recorded and routes only the
new alerts; two requests make one run; schedules are due once per due time."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.urls import reverse
from tests.web.conftest import CDNOW
from tests.web.test_sources import register_by_page
from tests.web.worker_processes import Workers

UTC = dt.UTC
ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "corecustomers"
COLUMNS = {"customer_id": "1", "timestamp": "3", "amount": "5"}
CDNOW_COLUMNS = ["--customer-col", "1", "--date-col", "3", "--amount-col", "5", "--no-header"]


def service_on_file(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A workspace folder and a SQLite file database for real processes."""
    workspace = tmp_path / "service"
    workspace.mkdir()
    url = f"sqlite:///{tmp_path / 'service.sqlite3'}"
    env = {**os.environ, "CORECUSTOMERS_ENV": "development"}
    for name in ("CORECUSTOMERS_DB", "CORECUSTOMERS_WORKSPACE"):
        env.pop(name, None)
    return workspace, url, env


def cli(args: list[str], workspace: Path, url: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(CLI), *args, "--workspace", str(workspace), "--db", url],
        env=env,
        capture_output=True,
        check=False,
        cwd=workspace.parent,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    return done.stdout.decode()


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def service_folder(settings: Any, tmp_path: Path) -> Path:
    workspace = tmp_path / "shop"
    workspace.mkdir()
    folder = workspace / ".corecustomers"
    settings.WORKSPACE = str(workspace)
    settings.SERVICE_FOLDER = folder
    settings.UPLOAD_FOLDER = folder / "uploads"
    return folder


def first_half(path: Path) -> Path:
    """The first half of the CDNOW rows by date (the rows up to the middle row's date)."""
    lines = CDNOW.read_text(encoding="utf-8").splitlines()
    cutoff = sorted(line.split()[2] for line in lines)[len(lines) // 2]
    path.write_text(
        "\n".join(line for line in lines if line.split()[2] <= cutoff) + "\n", encoding="utf-8"
    )
    return path


def run_and_route(client: Any, name: str, capture: Any) -> tuple[Any, dict[str, int]]:
    """Run the source from its page as the worker would, then the routing job it queued."""
    from corecustomers.web.jobs.models import Job
    from corecustomers.web.jobs.runner import run_job
    from corecustomers.web.sources.models import SourceRun

    answer = client.post(reverse("pages:source-run", kwargs={"name": name}))
    job_id = answer["Location"].rstrip("/").split("/")[-1]
    with capture(execute=True):
        job = run_job(job_id)
    assert job.status == "succeeded", job.error
    run = SourceRun.objects.get(job_id=job_id)
    (routing,) = Job.objects.filter(kind="route_alerts", params__run_id=run.run_id)
    routed = run_job(str(routing.pk))
    assert routed.status == "succeeded", routed.error
    return run, routed.result


@pytest.mark.django_db
def test_a_later_run_keeps_what_people_recorded_and_routes_only_the_new_alerts(
    client: Any,
    people: Any,
    service_folder: Path,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from corecustomers.store import Workspace
    from corecustomers.web.customers.models import AccountMember, Analysis, CustomerState
    from corecustomers.web.work.interactions import log_interaction
    from corecustomers.web.work.models import Alert, Interaction, Notification

    client.force_login(people.admin)
    assert register_by_page(client, "cdnow", first_half(tmp_path / "half.txt")).status_code == 302
    run1, routed1 = run_and_route(client, "cdnow", django_capture_on_commit_callbacks)
    flagged1 = CustomerState.objects.filter(run_id=run1.run_id, alert=True).count()
    assert routed1["raised"] == flagged1 > 0

    # what people do between the runs: assignments, contacts, an alert outcome
    alerts = list(Alert.objects.order_by("-value_at_stake", "pk")[:3])
    for alert in alerts:
        AccountMember.objects.create(customer=alert.customer, user=people.am1, role="owner")
    log_interaction(people.admin, alerts[0].customer, kind="visit", outcome="retained")
    log_interaction(people.admin, alerts[1].customer, kind="call", outcome="not_reachable")
    quiet = CustomerState.objects.filter(run_id=run1.run_id, alert=False).first()
    assert quiet is not None
    log_interaction(people.admin, quiet.customer, kind="gift", notes="moon cakes")
    resolved = Alert.objects.get(pk=alerts[0].pk)
    assert (resolved.status, resolved.outcome) == ("resolved", "retained")
    interactions = list(Interaction.objects.order_by("pk").values())
    members = set(AccountMember.objects.values_list("customer_id", "user_id", "role"))
    alerts_before = {a.pk: (a.customer_id, a.reason_code, a.outcome) for a in Alert.objects.all()}
    notes_before = Notification.objects.count()

    with CDNOW.open("rb") as handle:
        from tests.web.test_sources import form

        replaced = client.post(
            reverse("pages:sources"), {**form("cdnow", replace="on"), "file": handle}
        )
    assert replaced.status_code == 302
    run2, routed2 = run_and_route(client, "cdnow", django_capture_on_commit_callbacks)
    assert run2.as_of > run1.as_of

    # nothing people recorded was lost or changed
    assert list(Interaction.objects.order_by("pk").values()) == interactions
    assert set(AccountMember.objects.values_list("customer_id", "user_id", "role")) == members
    for pk, (customer, reason, outcome) in alerts_before.items():
        alert = Alert.objects.get(pk=pk)
        assert (alert.customer_id, alert.reason_code, alert.outcome) == (customer, reason, outcome)
    # only the new alerts were raised: one per flagged customer and reason not alerted before
    flagged2 = {
        (s.customer_id, s.alert_code or "early_warning")
        for s in CustomerState.objects.filter(run_id=run2.run_id, alert=True)
    }
    known = {(customer, reason) for customer, reason, _ in alerts_before.values()}
    assert routed2["raised"] == len(flagged2 - known)
    assert Alert.objects.count() == len(alerts_before) + len(flagged2 - known)
    assert routed2["raised"] + routed2["reopened"] + routed2["updated"] == len(flagged2)
    # the people told are those of the new and reopened alerts, none of the known open ones
    told = Notification.objects.order_by("pk")[notes_before:]
    routed_again = {
        a.pk for a in Alert.objects.exclude(pk__in=list(alerts_before)) if a.assignee_id
    } | {a.pk for a in Alert.objects.filter(reopened__gt=0) if a.assignee_id}
    assert {n.alert_id for n in told} == routed_again
    assert len(told) == len(routed_again)
    assert (
        Alert.objects.values("customer", "reason_code").distinct().count() == Alert.objects.count()
    )
    # one history: two analyses in the service, two snapshots of the source in the workspace
    assert list(Analysis.objects.order_by("as_of").values_list("run_id", flat=True)) == [
        run1.run_id,
        run2.run_id,
    ]
    with Workspace.open(str(service_folder.parent)) as workspace:
        assert workspace.snapshot_dates("cdnow") == [run1.as_of, run2.as_of]


@pytest.mark.django_db
def test_two_run_requests_for_one_source_make_one_run(
    people: Any, service_folder: Path, client: Any
) -> None:
    from corecustomers.web.jobs.models import Job
    from corecustomers.web.sources.models import Source, SourceRun
    from corecustomers.web.sources.runs import request_run

    client.force_login(people.admin)
    assert register_by_page(client, "cdnow", CDNOW).status_code == 302
    source = Source.objects.get(name="cdnow")
    first, created = request_run(source, user=people.admin)
    second, again = request_run(source, user=people.manager, channel="api")
    assert (created, again) == (True, False)
    assert second.job_id == first.job_id
    Job.objects.filter(pk=first.job_id).update(status="running", heartbeat=dt.datetime.now(UTC))
    during, _ = request_run(source, user=people.manager)
    assert during.job_id == first.job_id
    assert SourceRun.objects.count() == Job.objects.filter(kind="run_analysis").count() == 1
    Job.objects.filter(pk=first.job_id).update(status="succeeded")
    later, new = request_run(source, user=people.manager)
    assert new and later.job_id != first.job_id


ASK = """
import sys, time
from corecustomers.web.runtime import ServiceConfig, configure
configure(ServiceConfig(workspace=sys.argv[1], db=sys.argv[2]))
from corecustomers.web.sources.models import Source
from corecustomers.web.sources.runs import request_run
source = Source.objects.get(name="cdnow")
while time.time() < float(sys.argv[3]):
    time.sleep(0.001)
run, created = request_run(source, channel="cli")
print(run.job_id, created)
"""


def _simultaneous_processes(tmp_path: Path) -> list[str]:
    """Two processes ask for a run of one source at the same moment (SQLite file)."""
    workspace, url, env = service_on_file(tmp_path)
    cli(["source", "add", "cdnow", str(CDNOW), *CDNOW_COLUMNS], workspace, url, env)
    at = time.time() + 4
    asks = [
        subprocess.Popen(
            [sys.executable, "-c", ASK, str(workspace), url, str(at)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        for _ in range(3)
    ]
    answers = []
    for ask in asks:
        out, err = ask.communicate(timeout=120)
        assert ask.returncode == 0, err.decode()
        answers.append(out.decode().split()[0])
    db = Path(url.removeprefix("sqlite:///"))
    assert _query(db, "SELECT count(*) FROM sources_sourcerun")[0][0] == 1
    return answers


@pytest.mark.django_db(transaction=True)
def test_simultaneous_run_requests_make_one_run(
    people: Any, service_folder: Path, tmp_path: Path
) -> None:
    """Threads on PostgreSQL (the row lock on the source); on SQLite, whose test database
    lives in memory and cannot be shared by threads, processes on a database file (the
    write transaction that starts with a lock)."""
    from corecustomers.web.sources.models import SourceRun
    from corecustomers.web.sources.registry import SourceSpec, register_source
    from corecustomers.web.sources.runs import request_run

    if connection.vendor != "postgresql":
        answers = _simultaneous_processes(tmp_path)
        assert len(answers) == 3 and len(set(answers)) == 1
        return
    source, _ = register_source(SourceSpec(name="cdnow", file=CDNOW, columns=COLUMNS, header=False))
    barrier = threading.Barrier(4)
    answers: list[str] = []
    errors: list[BaseException] = []

    def ask(user: Any) -> None:
        try:
            barrier.wait()
            run, _ = request_run(source, user=user)
            answers.append(str(run.job_id))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=ask, args=(who,))
        for who in (people.admin, people.manager, people.admin, people.manager)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(answers) == 4 and len(set(answers)) == 1
    assert SourceRun.objects.count() == 1


@pytest.mark.parametrize(
    ("schedule", "day", "now", "due"),
    [
        ("daily", 1, "2025-03-05T01:59", "2025-03-04T02:00"),
        ("daily", 1, "2025-03-05T02:00", "2025-03-05T02:00"),
        ("weekly", 3, "2025-03-05T02:30", "2025-03-05T02:00"),  # a Wednesday
        ("weekly", 1, "2025-03-05T02:30", "2025-03-03T02:00"),
        ("weekly", 3, "2025-03-05T01:00", "2025-02-26T02:00"),
        ("monthly", 28, "2025-03-05T09:00", "2025-02-28T02:00"),
        ("monthly", 5, "2025-03-05T09:00", "2025-03-05T02:00"),
        ("monthly", 15, "2025-01-10T09:00", "2024-12-15T02:00"),
    ],
)
def test_the_latest_due_time_of_a_schedule(schedule: str, day: int, now: str, due: str) -> None:
    from corecustomers.web.sources.schedule import latest_due

    shanghai = ZoneInfo("Asia/Shanghai")
    at = dt.datetime.fromisoformat(now).replace(tzinfo=shanghai)
    expected = dt.datetime.fromisoformat(due).replace(tzinfo=shanghai)
    assert latest_due(schedule, dt.time(2, 0), day, at, shanghai) == expected
    assert latest_due("none", dt.time(2, 0), day, at, shanghai) is None


@pytest.mark.django_db
def test_a_scheduled_source_is_run_once_per_due_time(
    people: Any, service_folder: Path, settings: Any
) -> None:
    from corecustomers.web.jobs.models import Job
    from corecustomers.web.sources.models import Source, SourceRun
    from corecustomers.web.sources.registry import SourceSpec, register_source
    from corecustomers.web.sources.schedule import queue_escalation, tick

    settings.TIME_ZONE = "Asia/Shanghai"
    zone = ZoneInfo("Asia/Shanghai")
    source, _ = register_source(
        SourceSpec(
            name="nightly",
            file=CDNOW,
            columns=COLUMNS,
            header=False,
            schedule="daily",
            schedule_time=dt.time(3, 0),
        ),
        user=people.manager,
    )
    Source.objects.filter(pk=source.pk).update(created=dt.datetime(2025, 3, 4, 12, 0, tzinfo=zone))
    assert tick(dt.datetime(2025, 3, 5, 2, 59, tzinfo=zone)) == []  # not due yet
    due = dt.datetime(2025, 3, 5, 3, 0, tzinfo=zone)
    (run,) = tick(dt.datetime(2025, 3, 5, 3, 0, 30, tzinfo=zone))
    assert run.due == due and run.trigger == "schedule"
    assert run.job.idempotency_key == f"schedule:nightly:{due.isoformat()}"
    assert run.job.created_by == people.manager
    assert tick(dt.datetime(2025, 3, 5, 3, 1, tzinfo=zone)) == []  # a second tick: no run
    assert tick(dt.datetime(2025, 3, 5, 23, 0, tzinfo=zone)) == []
    Job.objects.filter(pk=run.job_id).update(status="succeeded")
    (next_run,) = tick(dt.datetime(2025, 3, 6, 3, 0, 1, tzinfo=zone))
    assert next_run.due == due + dt.timedelta(days=1)
    # a due time while a run is still going on is covered by that run
    assert tick(dt.datetime(2025, 3, 7, 3, 5, tzinfo=zone)) == []
    assert SourceRun.objects.count() == 2

    first = queue_escalation()
    assert first is not None and first.kind == "escalate_alerts"
    assert queue_escalation() is None  # one is waiting already


#: The steps after ``analyze`` stored the snapshot and before it wrote the run marker: a
#: worker killed there leaves a snapshot in the workspace that the service has not loaded.
AFTER_SNAPSHOT = ("Writing customers and summary", "Rendering report.html")


def _job(db: Path) -> tuple[str, str, int, str]:
    rows = _query(
        db, "SELECT status, message, attempts, id FROM jobs_job WHERE kind = 'run_analysis'"
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_a_run_whose_worker_is_killed_leaves_both_stores_consistent_and_completes_on_retry(
    tmp_path: Path, workers: Workers
) -> None:
    from corecustomers.store import Workspace
    from corecustomers.store.outputs import recorded_outputs

    workspace, url, env = service_on_file(tmp_path)
    env.update(CORECUSTOMERS_JOB_LEASE="3", CORECUSTOMERS_WATCH_SECONDS="1")
    db = Path(url.removeprefix("sqlite:///"))
    cli(["source", "add", "cdnow", str(CDNOW), *CDNOW_COLUMNS], workspace, url, env)
    assert "Queued run" in cli(["run", "cdnow"], workspace, url, env)
    assert _job(db)[0] == "queued"

    log = workers.log
    first = workers.start(workspace, url, env, cwd=workspace.parent)
    deadline = time.monotonic() + 240
    while not _job(db)[1].startswith(AFTER_SNAPSHOT):
        assert first.poll() is None, log.read_text()
        assert _job(db)[0] != "succeeded", "the run ended before it could be killed"
        assert time.monotonic() < deadline, f"the run never got there: {_job(db)}"
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    status, message, attempts, job_id = _job(db)
    assert (status, attempts) == ("running", 1), message

    # killed between the engine's two commits: the snapshot is stored, the service has
    # loaded nothing, and no marker says the folder is finished
    folder = workspace / ".corecustomers" / "analyses" / "cdnow" / str(uuid.UUID(job_id))
    assert folder.is_dir()
    assert _query(db, "SELECT count(*) FROM customers_analysis")[0][0] == 0
    assert _query(db, "SELECT count(*) FROM customers_customer")[0][0] == 0
    with Workspace.open(str(workspace)) as store:
        (killed_as_of,) = store.snapshot_dates("cdnow")
    assert not [o for o in recorded_outputs(str(workspace)) if o.folder == folder]

    second = workers.start(workspace, url, env, cwd=workspace.parent)
    deadline = time.monotonic() + 300
    while _job(db)[0] not in {"succeeded", "failed"}:
        assert second.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the run was not taken up again: {_job(db)}"
        time.sleep(0.2)
    assert _job(db)[0] == "succeeded", log.read_text()[-5000:]
    assert _job(db)[2] == 2
    time.sleep(2)  # let the watch look at the new marker once

    ((run_id, as_of),) = _query(db, "SELECT run_id, as_of FROM sources_sourcerun")
    # the watch may have queued an import of the same folder too: it found it done
    assert _query(db, "SELECT kind, error FROM jobs_job WHERE status = 'failed'") == []
    assert _query(db, "SELECT run_id FROM customers_analysis") == [(run_id,)]
    assert _query(db, "SELECT count(*) FROM customers_customer")[0][0] == 2357
    assert _query(db, "SELECT count(*) FROM customers_customerhistory")[0][0] == 2357
    assert (
        _query(
            db,
            f"SELECT count(*) FROM jobs_job WHERE kind = 'route_alerts' AND params LIKE '%{run_id}%'",
        )[0][0]
        == 1
    )
    with Workspace.open(str(workspace)) as store:
        assert store.snapshot_dates("cdnow") == [killed_as_of] == [dt.date.fromisoformat(as_of)]
        snapshot = store.read_snapshot(killed_as_of, source_name="cdnow")
    assert snapshot.num_rows == 2357
    assert set(snapshot.column("run_id").to_pylist()) == {run_id}


def test_the_worker_runs_a_scheduled_source_once_at_its_time(
    tmp_path: Path, workers: Workers
) -> None:
    workspace, url, env = service_on_file(tmp_path)
    env.update(CORECUSTOMERS_SCHEDULE_SECONDS="0.5", CORECUSTOMERS_TIME_ZONE="UTC")
    db = Path(url.removeprefix("sqlite:///"))
    at = (dt.datetime.now(UTC) + dt.timedelta(seconds=20)).time().replace(microsecond=0)
    cli(["source", "add", "cdnow", str(CDNOW), *CDNOW_COLUMNS, "--schedule", "daily",
         "--at", at.isoformat()], workspace, url, env)  # fmt: skip
    log = workers.log
    worker = workers.start(workspace, url, env, cwd=workspace.parent)
    # only a guard against a hang: the CDNOW run took > 240 s with two test workers
    # and load 8-12 on two cores (2026-12-05); 15 min is far from any real run
    deadline = time.monotonic() + 900
    while not _query(db, "SELECT count(*) FROM jobs_job WHERE status = 'succeeded' "
                     "AND kind = 'run_analysis'")[0][0]:  # fmt: skip
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    time.sleep(3)  # more ticks: no second run for the same due time
    runs = _query(db, "SELECT trigger, due FROM sources_sourcerun")
    assert len(runs) == 1
    ((trigger, due),) = runs
    assert trigger == "schedule"
    assert dt.datetime.fromisoformat(due).time() == at
    assert _query(db, "SELECT count(*) FROM customers_analysis")[0][0] == 1
