"""Crash consistency: a worker killed (SIGKILL) in the middle of an earning batch, and in
the middle of an expiry job, leaves the ledger balanced; rerunning completes each job
exactly once.

Real processes only, as in ``test_masterdata_worker.py``: a SQLite file, or (PostgreSQL
pass) a fresh PostgreSQL database, each migrated by the importing process; the analysis
is imported by another process (which queues the earning job through the
``analysis_imported`` signal), and ``corecustomers worker`` is started, killed while it
writes, and started again. Small chunks (``CORECUSTOMERS_LOYALTY_CHUNK``) make the batch
many transactions long, so the kill lands between and inside them.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.conftest import CDNOW
from tests.web.worker_processes import Workers

ROOT = Path(__file__).resolve().parents[3]
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"

PRELUDE = """
import json, sys
from corecustomers.web.runtime import ServiceConfig, configure
configure(ServiceConfig(workspace=sys.argv[1], db=sys.argv[2]))
"""

IMPORT = (
    PRELUDE
    + """
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from corecustomers.web.loyalty.models import Programme
from corecustomers.web.customers.analysis_import import import_analysis
Programme.objects.create(pk=1, earn_from_runs=True, expiry="days", expiry_days=30)
import_analysis(sys.argv[3])
"""
)

EXPIRE = (
    PRELUDE
    + """
import datetime as dt
from django.utils import timezone
from corecustomers.web.jobs.runner import submit
later = timezone.now() + dt.timedelta(days=40)
job, _ = submit("loyalty_daily", {"now": later.isoformat()}, channel="system")
print(job.pk)
"""
)

CHECK = (
    PRELUDE
    + """
from django.db.models import Sum
from corecustomers.web.loyalty.checks import ledger_problems
from corecustomers.web.loyalty.models import Account, Lot, Movement
totals = Account.objects.aggregate(e=Sum("lifetime_earned"), x=Sum("expired"), a=Sum("available"))
print(json.dumps({
    "problems": ledger_problems(),
    "earned": totals["e"] or 0,
    "expired": totals["x"] or 0,
    "available": totals["a"] or 0,
    "earn_movements": Movement.objects.filter(kind="earn").count(),
    "expire_movements": Movement.objects.filter(kind="expire").count(),
    "lots": Lot.objects.count(),
    "open_lots": Lot.objects.filter(remaining__gt=0).count(),
}))
"""
)


class Database:
    def __init__(self, url: str, sqlite_file: Path | None = None) -> None:
        self.url, self.sqlite_file = url, sqlite_file

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.sqlite_file is not None:
            con = sqlite3.connect(f"file:{self.sqlite_file}?mode=ro", uri=True, timeout=30)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            return list(pg.execute(sql).fetchall())  # type: ignore[arg-type]

    def job(self, kind: str) -> tuple[str, int, str]:
        rows = self.query(f"SELECT status, attempts, error FROM jobs_job WHERE kind = '{kind}'")
        assert len(rows) == 1, rows
        return rows[0][0], int(rows[0][1]), rows[0][2]

    def count(self, sql_where: str) -> int:
        return int(self.query(f"SELECT count(*) FROM loyalty_movement WHERE {sql_where}")[0][0])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "service.sqlite3"
        yield Database(f"sqlite:///{path}", path)
        return
    if not os.environ.get("CORECUSTOMERS_TEST_DB", "").startswith("postgres"):
        pytest.skip("the PostgreSQL variant runs in the PostgreSQL pass of `make test`")
    import psycopg

    server = os.environ.get("CORECUSTOMERS_TEST_POSTGRES_SERVER", PG_SERVER)
    name = f"cc_loyalty_kill_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database(f"{server}/{name}")
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _expected_points() -> int:
    days: dict[tuple[str, str], float] = defaultdict(float)
    for line in CDNOW.read_text().splitlines():
        customer, _, day, _, amount = line.split()
        days[(customer, day)] += float(amount)
    return sum(math.floor(round(a, 6)) for a in days.values() if a > 0)


def _until(what: str, probe: Callable[[], Any], worker: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while not probe():
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _kill(worker: subprocess.Popen[bytes]) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL


def test_a_killed_worker_leaves_the_ledger_balanced_and_each_job_completes_once(
    tmp_path: Path, database: Database, cdnow_analysis: Path, workers: Workers
) -> None:
    workspace = tmp_path / "shop"
    workspace.mkdir()
    url, db = database.url, database
    env = {
        **os.environ,
        "CORECUSTOMERS_JOB_LEASE": "6",
        "CORECUSTOMERS_ENV": "development",
        "CORECUSTOMERS_LOYALTY_CHUNK": "10",
        "CORECUSTOMERS_SCHEDULE_SECONDS": "0",
    }
    env.pop("CORECUSTOMERS_DB", None)
    env.pop("CORECUSTOMERS_WORKSPACE", None)

    def script(code: str, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code, str(workspace), url, *args],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def check() -> dict[str, Any]:
        result: dict[str, Any] = json.loads(script(CHECK).strip().splitlines()[-1])
        return result

    script(IMPORT, str(cdnow_analysis))
    assert db.job("loyalty_earn_run")[0] == "queued"
    log = workers.log

    def start() -> subprocess.Popen[bytes]:
        return workers.start(workspace, url, env)

    # 1. earning: killed after some chunks have committed
    worker = start()
    _until("the first chunk", lambda: db.count("key LIKE 'run:%'") >= 20, worker, log)
    _kill(worker)
    status, attempts, _ = db.job("loyalty_earn_run")
    assert (status, attempts) == ("running", 1)
    half = check()
    assert half["problems"] == []
    assert 0 < half["earned"] < _expected_points()  # part of it, balanced
    worker = start()
    _until(
        "the earning to finish",
        lambda: db.job("loyalty_earn_run")[0] in {"succeeded", "failed"},
        worker,
        log,
    )
    status, attempts, error = db.job("loyalty_earn_run")
    # taken up again (a busy machine may stretch a chunk past the lease and have it
    # taken up a third time: the keys make that harmless too)
    assert status == "succeeded" and attempts >= 2, error
    full = check()
    assert full["problems"] == []
    assert full["earned"] == full["available"] == _expected_points()  # exactly once
    assert full["earn_movements"] == full["lots"]

    # 2. expiry: queued while no worker runs, killed after some lots have expired
    _kill(worker)
    script(EXPIRE)
    worker = start()
    _until("the first expiries", lambda: db.count("kind = 'expire'") >= 10, worker, log)
    _kill(worker)
    half = check()
    assert half["problems"] == []
    assert 0 < half["expired"] < full["earned"]
    worker = start()

    def finished() -> bool:
        rows = db.query(
            "SELECT status FROM jobs_job WHERE kind = 'loyalty_daily' AND CAST(params AS TEXT) LIKE '%now%'"
        )
        return bool(rows) and rows[0][0] in {"succeeded", "failed"}

    _until("the expiry to finish", finished, worker, log)
    assert db.query("SELECT status FROM jobs_job WHERE CAST(params AS TEXT) LIKE '%now%'") == [
        ("succeeded",)
    ]
    done = check()
    assert done["problems"] == []
    assert done["expired"] == full["earned"] and done["available"] == 0
    assert done["expire_movements"] == full["lots"]  # one expiry per lot, exactly once
    assert done["open_lots"] == 0
