"""A worker killed in the middle of a master-data import: nothing is half-applied, and the
job completes exactly once when a worker runs again.

The real thing, on a SQLite file and on a fresh PostgreSQL database, each made by
`corecustomers createuser`; the job is submitted by another Python process as the API does; the worker
is `corecustomers worker` started as a process and killed with SIGKILL while it applies
the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.masterdata_files import MasterData, make_master_data, write_csv
from tests.web.worker_processes import CLI, Workers

ROOT = Path(__file__).resolve().parents[2]
ROWS = 50_000
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"

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


class Database:
    """The service database the processes share: a SQLite file or a fresh PostgreSQL one."""

    def __init__(self, url: str, sqlite_file: Path | None = None) -> None:
        self.url, self.sqlite_file = url, sqlite_file
        self._wal_start = 0

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.sqlite_file is not None:
            con = sqlite3.connect(f"file:{self.sqlite_file}?mode=ro", uri=True, timeout=30)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            return list(pg.execute(sql).fetchall())

    def job(self) -> tuple[str, str, int, Any]:
        rows = self.query(
            "SELECT status, message, attempts, result FROM jobs_job WHERE kind = 'import_customers'"
        )
        assert len(rows) == 1
        status, message, attempts, result = rows[0]
        if isinstance(result, str):
            result = json.loads(result)
        return status, message, attempts, result

    def count(self, table: str, where: str = "1=1") -> int:
        return int(self.query(f"SELECT count(*) FROM {table} WHERE {where}")[0][0])

    def writing(self) -> bool:
        """Whether the import's transaction has written (SQLite: its WAL grew a
        megabyte; PostgreSQL: a COPY into the database is running)."""
        if self.sqlite_file is not None:
            wal = Path(f"{self.sqlite_file}-wal")
            return wal.exists() and wal.stat().st_size > self._wal_start + 1_000_000
        name = self.url.rsplit("/", 1)[1]
        return bool(
            self.query(
                f"SELECT 1 FROM pg_stat_activity WHERE datname = '{name}' AND query LIKE 'COPY%'"
            )
        )

    def heartbeat_age(self) -> float:
        """Seconds since the import job's row was last beaten (0 when it has no beat)."""
        (beat,) = self.query("SELECT heartbeat FROM jobs_job WHERE kind = 'import_customers'")[0]
        if beat is None:
            return 0.0
        when = dt.datetime.fromisoformat(beat) if isinstance(beat, str) else beat
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return (dt.datetime.now(dt.UTC) - when).total_seconds()

    def beat_file_ages(self) -> list[float]:
        """Seconds since each job beat file beside the SQLite file was touched."""
        ages = []
        for path in Path(f"{self.sqlite_file}-beats").glob("*"):
            try:
                ages.append(time.time() - path.stat().st_mtime)
            except FileNotFoundError:  # the job ended meanwhile
                continue
        return ages

    def mark(self) -> None:
        wal = Path(f"{self.sqlite_file}-wal") if self.sqlite_file else None
        self._wal_start = wal.stat().st_size if wal is not None and wal.exists() else 0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "service.sqlite3"
        yield Database(f"sqlite:///{path}", path)
        return
    import psycopg

    server = os.environ.get("CORECUSTOMERS_TEST_POSTGRES_SERVER", PG_SERVER)
    name = f"cc_kill_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {server}: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL is not reachable at {server}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database(f"{server}/{name}")
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _submitted(
    tmp_path: Path, db: Database, env: dict[str, str], *, submit: bool = True
) -> tuple[Path, MasterData]:
    """A workspace with an admin and two account managers, and an import of ROWS rows
    submitted (queued) by another process as the API does (with ``submit``)."""
    workspace = tmp_path / "shop"
    workspace.mkdir()
    url = db.url
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
    if submit:
        _submit(tmp_path, workspace, db, env, data)
    return workspace, data


def _submit(
    tmp_path: Path,
    workspace: Path,
    db: Database,
    env: dict[str, str],
    data: MasterData,
    *,
    queued: bool = True,
) -> None:
    """Submit the import as the API does; with ``queued``, no worker may have taken it yet."""
    source = write_csv(data, tmp_path / "customers.csv")
    submitted = subprocess.run(
        [sys.executable, "-c", SUBMIT, str(workspace), db.url, str(source)],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    assert submitted.stdout.strip()
    assert db.job()[0] in ({"queued"} if queued else {"queued", "running", "succeeded"})


def _wait_until_up(
    db: Database, worker: subprocess.Popen[bytes], log: Path, deadline: float
) -> None:
    """Until the worker has written its first beat for ``/readyz`` (it has started)."""
    while not db.count("security_workerbeat", f"worker LIKE '%:{worker.pid}'"):
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.1)


def _env(lease: float) -> dict[str, str]:
    env = {**os.environ, "CORECUSTOMERS_JOB_LEASE": str(lease), "CORECUSTOMERS_ENV": "development"}
    env.pop("CORECUSTOMERS_DB", None)
    env.pop("CORECUSTOMERS_WORKSPACE", None)
    return env


@pytest.mark.slow  # about a minute per database: the lease must run out
def test_a_killed_worker_leaves_nothing_half_applied_and_the_job_completes_once(
    tmp_path: Path, database: Database, workers: Workers
) -> None:
    db = database
    url = database.url
    env = _env(3)
    workspace, data = _submitted(tmp_path, db, env)
    good = ROWS - len(data.bad)
    log = workers.log
    worker = workers.start(workspace, url, env)
    # wait until the worker applies the file (its one write transaction) ...
    deadline = time.monotonic() + 120
    while not db.job()[1].startswith("applying"):
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the job never got to writing: {db.job()}"
        time.sleep(0.02)
    # ... and has written into it, then kill it without warning
    db.mark()
    until = time.monotonic() + 5
    while time.monotonic() < until and not db.writing():
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    status, _, attempts, _ = db.job()
    assert (status, attempts) == ("running", 1)  # killed mid-import, not finished
    assert db.count("customers_customer") == 0  # nothing half-applied
    assert db.count("customers_accountmember") == 0
    assert db.count("audit_auditentry", "object_type = 'customer'") == 0

    second = workers.start(workspace, url, env)
    deadline = time.monotonic() + 240
    while db.job()[0] not in {"succeeded", "failed"}:
        assert second.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the job was not taken up again: {db.job()}"
        time.sleep(0.2)
    status, _, attempts, result = db.job()
    assert status == "succeeded", log.read_text()
    assert attempts == 2
    assert result["created"] == good  # all applied by the second run, exactly once
    assert result["bad_row_count"] == len(data.bad)
    assert db.count("customers_customer") == good
    assert db.count("customers_customer", "in_master_data") == good
    assert db.count("audit_auditentry", "action = 'create' AND object_type = 'customer'") == good
    assert db.count("audit_auditentry", "action = 'import'") == 1
    owners = db.count("customers_accountmember", "role = 'owner'")
    assert owners == sum(1 for row in data.good if row["owner"])


@pytest.mark.slow  # about half a minute per database
def test_a_long_write_is_not_taken_for_dead_by_another_worker(
    tmp_path: Path, database: Database, workers: Workers
) -> None:
    """One worker applies the file in one transaction for longer than the lease (1 s) while a
    second worker watches (every quarter lease): the job must run once, not be queued again.

    On SQLite the job row cannot be written during that transaction (one writer): the
    runner's beat file beside the database carries the heartbeat then (it replaced the
    import's own ``write_allowance``, which moved the heartbeat ahead of the write).
    """
    db = database
    lease = 1.0
    env = _env(lease)
    workspace, data = _submitted(tmp_path, db, env, submit=False)
    log = workers.log
    # both workers are up before the job exists (a worker's start re-creates the scope
    # triggers, which on PostgreSQL deadlocks with an import under way: reported apart)
    first = workers.start(workspace, db.url, env)
    deadline = time.monotonic() + 120
    _wait_until_up(db, first, log, deadline)
    second = workers.start(workspace, db.url, env)
    _wait_until_up(db, second, log, deadline)
    _submit(tmp_path, workspace, db, env, data, queued=False)
    while not db.job()[1].startswith("applying"):
        assert first.poll() is None and second.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the job never got to writing: {db.job()}"
        time.sleep(0.02)
    applying = time.monotonic()
    row_ages, file_ages = [], []  # of the beats, seconds, while the job runs
    while db.job()[0] not in {"succeeded", "failed"}:
        assert first.poll() is None and second.poll() is None, log.read_text()
        assert time.monotonic() < deadline + 120, f"the job did not finish: {db.job()}"
        row_ages.append(db.heartbeat_age())
        if db.sqlite_file is not None:
            file_ages += db.beat_file_ages()
        time.sleep(0.05)
    written = time.monotonic() - applying
    status, _, attempts, result = db.job()
    # the write outlasted several leases, or this test proves nothing
    assert written > 3 * lease, f"the write took only {written:.1f} s"
    if db.sqlite_file is not None:
        # the row could not be beaten during the write: read alone, it looked dead ...
        assert max(row_ages) > 2 * lease, row_ages
        # ... while the beat file stayed within the lease throughout
        assert file_ages and max(file_ages) < lease, file_ages
    else:  # PostgreSQL: the heartbeat thread beats the row during the write
        assert max(row_ages) < lease, row_ages
    assert (status, attempts) == ("succeeded", 1), log.read_text()
    assert result["created"] == ROWS - len(data.bad)
    assert db.count("audit_auditentry", "action = 'import'") == 1
