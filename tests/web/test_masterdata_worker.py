"""A worker killed in the middle of a master-data import: nothing is half-applied, and the
job completes exactly once when a worker runs again.

The real thing: the service's database is a SQLite file made by `corecustomers
createuser`; the job is submitted by another Python process as the API does; the worker
is `corecustomers worker` started as a process and killed with SIGKILL while it applies
the file.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.web.masterdata_files import make_master_data, write_csv

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "corecustomers"
ROWS = 50_000

SUBMIT = """
import sys
from corecustomers.web.runtime import ServiceConfig, configure
configure(ServiceConfig(workspace=sys.argv[1], db=sys.argv[2]))
from corecustomers.web.accounts.models import User
from corecustomers.web.customers.masterdata_jobs import store_upload, submit_import
with open(sys.argv[3], "rb") as handle:
    path = store_upload(iter(lambda: handle.read(1 << 20), b""), "customers.csv")
job, _ = submit_import(path, name="customers.csv", dry_run=False,
                       user=User.objects.get(username="admin"), channel="api")
print(job.pk)
"""


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _job(db: Path) -> tuple[str, str, int, Any]:
    rows = _query(
        db, "SELECT status, message, attempts, result FROM jobs_job WHERE kind = 'import_customers'"
    )
    assert len(rows) == 1
    status, message, attempts, result = rows[0]
    return status, message, attempts, json.loads(result) if result else None


def _count(db: Path, table: str, where: str = "1=1") -> int:
    return int(_query(db, f"SELECT count(*) FROM {table} WHERE {where}")[0][0])


def _worker(workspace: Path, url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        [str(CLI), "worker", "--workspace", str(workspace), "--db", url],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def test_a_killed_worker_leaves_nothing_half_applied_and_the_job_completes_once(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "shop"
    workspace.mkdir()
    db = tmp_path / "service.sqlite3"
    url = f"sqlite:///{db}"
    env = {**os.environ, "CORECUSTOMERS_JOB_LEASE": "3", "CORECUSTOMERS_ENV": "development"}
    env.pop("CORECUSTOMERS_DB", None)
    env.pop("CORECUSTOMERS_WORKSPACE", None)
    for name, role, team in (
        ("admin", "admin", None),
        ("am1", "account_manager", "East"),
        ("am2", "account_manager", "West"),
    ):
        command = [str(CLI), "createuser", name, "--role", role, "--password-stdin"]
        command += ["--workspace", str(workspace), "--db", url]
        if team:
            command += ["--team", team]
        subprocess.run(command, input=b"a-long-password-42\n", env=env, check=True, cwd=tmp_path)

    data = make_master_data(ROWS)
    good = ROWS - len(data.bad)
    source = write_csv(data, tmp_path / "customers.csv")
    submitted = subprocess.run(
        [sys.executable, "-c", SUBMIT, str(workspace), url, str(source)],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    assert submitted.stdout.strip()
    assert _job(db)[0] == "queued"

    log = tmp_path / "worker.log"
    worker = _worker(workspace, url, env, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        # wait until the worker applies the file (its one write transaction) ...
        deadline = time.monotonic() + 120
        while not _job(db)[1].startswith("applying"):
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the job never got to writing: {_job(db)}"
            time.sleep(0.02)
        # ... and has written into it for a moment, then kill it without warning
        wal = Path(f"{db}-wal")
        start = wal.stat().st_size if wal.exists() else 0
        until = time.monotonic() + 3
        while time.monotonic() < until and (wal.stat().st_size if wal.exists() else 0) < (
            start + 1_000_000
        ):
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL

        status, _, attempts, _ = _job(db)
        assert (status, attempts) == ("running", 1)  # killed mid-import, not finished
        assert _count(db, "customers_customer") == 0  # nothing half-applied
        assert _count(db, "customers_accountmember") == 0
        assert _count(db, "audit_auditentry", "object_type = 'customer'") == 0

        second = _worker(workspace, url, env, log)
        deadline = time.monotonic() + 240
        while _job(db)[0] not in {"succeeded", "failed"}:
            assert second.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the job was not taken up again: {_job(db)}"
            time.sleep(0.2)
        status, _, attempts, result = _job(db)
        assert status == "succeeded", log.read_text()
        assert attempts == 2
        assert result["created"] == good  # all applied by the second run, exactly once
        assert result["bad_row_count"] == len(data.bad)
        assert _count(db, "customers_customer") == good
        assert _count(db, "customers_customer", "in_master_data") == good
        assert (
            _count(db, "audit_auditentry", "action = 'create' AND object_type = 'customer'") == good
        )
        assert _count(db, "audit_auditentry", "action = 'import'") == 1
        owners = _count(db, "customers_accountmember", "role = 'owner'")
        assert owners == sum(1 for row in data.good if row["owner"])
    finally:
        for process in (worker, second):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
