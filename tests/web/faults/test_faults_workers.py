"""Faults: a worker killed with SIGKILL at a random moment of each kind of background job.

For every kind of job the service has (the handlers registered with
:func:`corecustomers.web.jobs.runner.register`, plus an erasure, which runs in the
command's own process), on a small database (the CDNOW sample's 2,357 customers):

1. a **reference run** from the kind's starting state: a worker runs the job (and what it
   queues) to the end; its duration is measured from the job row;
2. **crash runs**, each from the same starting state: a worker starts, and at a random
   moment within the measured duration after the job started (seeded: the seed and each
   delay are printed) it is killed with SIGKILL; for the imports and the erasure the
   state at that moment must be all or nothing (the starting state or the reference's
   end state, table by table); then a new worker is started and runs the queue empty;
3. after it: the job **succeeded**, every service table holds **the same rows as after the
   reference run** (row counts -- so nothing twice -- and contents, without ids, times and
   UUIDs, which a rerun may not reproduce), the same jobs by kind and status (nothing
   queued twice), the same workspace files (and Parquet row counts), and the kind's
   invariants hold: the points ledger balances, customer ids are unique, each sent message
   has its one file and none is left "sending", the export has every interaction, an
   erased customer is gone with exactly one fulfilment record whose file cleaning
   completed.

The workers are real processes running the worker's code (``corecustomers worker
--batch``: :func:`corecustomers.web.jobs.worker.run_worker`) on the database file or a
PostgreSQL database of their own; they are forked from a process that has Django loaded
(``faults_zygote.py``) so that a restart costs a fork, not a new interpreter. The
per-app tests (``test_masterdata_worker.py``, ``loyalty/test_loyalty_worker.py``,
``contact/test_contact_crash.py``, ``test_runs.py``) kill the ``corecustomers worker``
command itself at chosen points; this suite kills at random points, many times.

How many runs: ``CORECUSTOMERS_FAULT_RUNS`` (default 1 per kind, to keep `make test` short; the acceptance figure is
20), the seed ``CORECUSTOMERS_FAULT_SEED``, a subset ``CORECUSTOMERS_FAULT_KINDS=a,b``.
The database: SQLite, or PostgreSQL when ``CORECUSTOMERS_TEST_DB`` names one (databases
``<its name>_run`` and ``<its name>_t_<kind>`` are made and dropped).
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.conftest import CDNOW
from tests.web.masterdata_files import make_master_data, write_csv

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

from faults_kinds import KINDS  # noqa: E402

RUNS = int(os.environ.get("CORECUSTOMERS_FAULT_RUNS", "1"))
SEED = int(os.environ.get("CORECUSTOMERS_FAULT_SEED", "20261205"))
SELECTED = [k for k in os.environ.get("CORECUSTOMERS_FAULT_KINDS", "").split(",") if k]
PG_TEST = os.environ.get("CORECUSTOMERS_TEST_DB", "")
LEASE = 0.5
#: The kinds whose effect is one transaction: after a kill, all of it or none of it.
ATOMIC = {
    "import_analysis": ("customers_customer", "customers_customerstate", "customers_analysis"),
    "import_customers": ("customers_customer", "customers_accountmember"),
    "erase": ("customers_customer", "privacy_suppression"),
}
#: Tables of an atomic kind compared by row count only right after the kill: the erasure's
#: record is created in its transaction and then updated stage by stage after the commit
#: (``pending``, ``completed``, ``details["files"]``: by design, see
#: ``corecustomers.web.privacy.finish``), so at a kill after the commit it is neither as
#: at the start nor as at the end; whether it exists must agree with the other tables.
#: After the restart it is compared whole, like every table.
ATOMIC_COUNTS = {"erase": ("privacy_fulfilment",)}


class Lab:
    """The run database and workspace, the kinds' starting states, and the fork server."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workspace = root / "run" / "shop"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True)
        self.workspace.mkdir(parents=True)
        if PG_TEST.startswith("postgresql"):
            self.server, base = PG_TEST.rsplit("/", 1)
            self.prefix = base.split("?")[0]
            self.url = f"{self.server}/{self.prefix}_run"
            self.sqlite: Path | None = None
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.prefix}_run" WITH (FORCE)')
            self._pg_admin(f'CREATE DATABASE "{self.prefix}_run"')
        else:
            self.sqlite = root / "run" / "service.sqlite3"
            self.url = f"sqlite:///{self.sqlite}"
        self.templates: set[str] = set()
        self.paths: dict[str, str] = {}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CORECUSTOMERS_")}
        self.env.update(
            CORECUSTOMERS_ENV="development",
            CORECUSTOMERS_JOB_LEASE=str(LEASE),
            CORECUSTOMERS_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            CORECUSTOMERS_LOYALTY_CHUNK="300",
            # a message a killed worker left "sending" is taken up again after 2 s
            CORECUSTOMERS_OUTBOX_LEASE="2",
            CORECUSTOMERS_SCHEDULE_SECONDS="0",
            CORECUSTOMERS_WATCH_SECONDS="0",
            PYTHONPATH=str(ROOT),
        )
        self.zygote = subprocess.Popen(
            [sys.executable, str(HERE / "faults_zygote.py"), str(self.workspace), self.url,
             str(self.logs)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(self.logs / "zygote.log").open("w"),
            text=True, cwd=ROOT, env=self.env,
        )  # fmt: skip
        ready = self._read()
        assert "ready" in ready, ready

    # -- the fork server ---------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        assert self.zygote.stdout is not None
        line = self.zygote.stdout.readline()
        if not line:
            raise AssertionError(f"the fork server stopped: {self._log('zygote.log')}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _send(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.zygote.stdin is not None
        self.zygote.stdin.write(json.dumps(command) + "\n")
        self.zygote.stdin.flush()
        return self._read()

    def _log(self, name: str) -> str:
        path = self.logs / name
        return path.read_text(encoding="utf-8", errors="replace")[-4000:] if path.is_file() else ""

    def fork(self, target: str, **arguments: Any) -> int:
        return int(self._send({"op": "fork", "target": target, **arguments})["pid"])

    def wait(self, pid: int, timeout: float) -> int | None:
        code = self._send({"op": "wait", "pid": pid, "timeout": timeout})["exit"]
        return None if code is None else int(code)

    def call(self, target: str, timeout: float = 600, **arguments: Any) -> Any:
        out = Path(arguments.pop("out", None) or self.root / f"{target}-{time.monotonic_ns()}.json")
        pid = self.fork(target, out=str(out), **arguments)
        code = self.wait(pid, timeout)
        assert code == 0, f"{target} ended with {code}: {self._log(f'child-{pid}.log')}"
        return json.loads(out.read_text(encoding="utf-8"))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._send({"op": "exit"})
        with contextlib.suppress(Exception):
            self.zygote.wait(timeout=10)
        if self.zygote.poll() is None:
            self.zygote.kill()
            self.zygote.wait()
        if self.sqlite is None:
            for name in ["run", *(f"t_{k}" for k in self.templates)]:
                self._pg_admin(f'DROP DATABASE IF EXISTS "{self.prefix}_{name}" WITH (FORCE)')

    # -- states ------------------------------------------------------------------------
    def _pg_admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as con:
            con.execute(sql)

    def save(self, name: str) -> None:
        """Keep the run database and workspace as the starting state ``name``."""
        keep = self.root / "tpl" / name
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        shutil.copytree(self.workspace, keep / "shop", symlinks=True)
        if self.sqlite is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite)) as con:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy2(self.sqlite, keep / "service.sqlite3")
        else:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.prefix}_t_{name}" WITH (FORCE)')
            self._pg_admin(f'CREATE DATABASE "{self.prefix}_t_{name}" TEMPLATE "{self.prefix}_run"')
        self.templates.add(name)

    def restore(self, name: str) -> None:
        """Put the starting state ``name`` back as the run database and workspace."""
        keep = self.root / "tpl" / name
        shutil.rmtree(self.workspace)
        shutil.copytree(keep / "shop", self.workspace, symlinks=True)
        if self.sqlite is not None:
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{self.sqlite}{suffix}").unlink(missing_ok=True)
            shutil.copy2(keep / "service.sqlite3", self.sqlite)
        else:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.prefix}_run" WITH (FORCE)')
            self._pg_admin(f'CREATE DATABASE "{self.prefix}_run" TEMPLATE "{self.prefix}_t_{name}"')

    def due_soon(self, seconds: float) -> float | None:
        """Seconds until the first queue entry due within ``seconds`` (``None``: none)."""
        sql = "SELECT run_after FROM django_tasks_database_dbtaskresult WHERE status = 'READY'"
        rows: list[Any]
        if self.sqlite is not None:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.sqlite}?mode=ro", uri=True, timeout=30)
            ) as con:
                rows = [r[0] for r in con.execute(sql).fetchall()]
        else:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as pg:
                rows = [r[0] for r in pg.execute(sql).fetchall()]
        now = dt.datetime.now(dt.UTC)
        waits = []
        for value in rows:
            if value is None:
                waits.append(0.0)
                continue
            when = dt.datetime.fromisoformat(str(value)) if isinstance(value, str) else value
            if when.year >= 9999:  # django-tasks' "no run_after": due now
                waits.append(0.0)
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            waits.append((when - now).total_seconds())
        soon = [w for w in waits if w <= seconds]
        return max(0.0, min(soon)) if soon else None

    def _job_row(self, columns: str, job_id: str) -> Any:
        """One job's ``columns`` (read-only, on either database); ``None`` if no such job."""
        sql = f"SELECT {columns} FROM jobs_job WHERE id = ?"
        if self.sqlite is not None:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.sqlite}?mode=ro", uri=True, timeout=30)
            ) as con:
                return con.execute(sql, [job_id.replace("-", "")]).fetchone()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            return pg.execute(sql.replace("?", "%s"), [job_id]).fetchone()

    def job(self, job_id: str) -> tuple[str, int]:
        row = self._job_row("status, attempts", job_id)
        assert row is not None, f"no job {job_id}"
        return str(row[0]), int(row[1])

    def stale_in(self, job_id: str) -> float:
        """Seconds until the job's heartbeat is older than the lease (0: already, or none).

        A job may set its heartbeat ahead of now: the master-data import moves it past its
        one long write transaction (``write_allowance``, at least 10 s), so that a worker
        killed during the write has its job taken up again only after that."""
        row = self._job_row("heartbeat", job_id)
        if row is None or row[0] is None:
            return 0.0
        beat = dt.datetime.fromisoformat(row[0]) if isinstance(row[0], str) else row[0]
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=dt.UTC)
        return max(0.0, (beat - dt.datetime.now(dt.UTC)).total_seconds() + LEASE)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, cdnow_analysis: Path) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("faults")
    data = root / "data"
    data.mkdir()
    later = _analysis_b(data)
    master = write_csv(make_master_data(300), data / "customers.csv")
    lab = Lab(root)
    lab.paths = {
        "analysis_a": str(cdnow_analysis),
        "analysis_b": str(later),
        "master_csv": str(master),
        "transactions": str(_first_half(data / "cdnow-small.txt", customers=400)),
    }
    try:
        lab.call("build_base", paths=lab.paths)
        lab.save("base")
        yield lab
    finally:
        lab.close()


def _first_half(path: Path, customers: int | None = None) -> Path:
    """The CDNOW rows up to the middle row's date (a different history from the base's),
    of the first ``customers`` customers only when given."""
    lines = CDNOW.read_text(encoding="utf-8").splitlines()
    if customers is not None:
        lines = [line for line in lines if int(line.split()[0]) <= customers]
    cutoff = sorted(line.split()[2] for line in lines)[len(lines) // 2]
    path.write_text(
        "\n".join(line for line in lines if line.split()[2] <= cutoff) + "\n", encoding="utf-8"
    )
    return path


def _analysis_b(data: Path) -> Path:
    """A second analysis (the first half of CDNOW): what the import job brings in."""
    from corecustomers.config import Settings
    from corecustomers.service import analyze

    out = data / "analysis-b"
    settings = Settings(
        columns={"customer_id": "1", "timestamp": "3", "amount": "5"}, workspace=str(data)
    )
    analyze(str(_first_half(data / "cdnow-first-half.txt")), out, settings)
    return out


def _differences(reference: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What differs between two inspections (tables, jobs, files, target job)."""
    out: list[str] = []
    for table, want in reference["tables"].items():
        have = got["tables"].get(table)
        if have is None:
            out.append(f"{table}: missing")
        elif have["digest"] != want["digest"]:
            line = f"{table}: {have['count']} rows, the reference {want['count']}"
            if "rows" in want and "rows" in have:
                extra = sorted(set(have["rows"]) - set(want["rows"]))
                lacking = sorted(set(want["rows"]) - set(have["rows"]))
                line += f"; {len(extra)} rows not in the reference, {len(lacking)} lacking"
                line += _closest(want["columns"], extra, lacking)
            out.append(line)
    # a delivery pass that found messages a killed pass had leased plans one more pass
    jobs = {k: v for k, v in got["jobs"].items() if not k.startswith("deliver_outbox:succ")}
    want = {k: v for k, v in reference["jobs"].items() if not k.startswith("deliver_outbox:succ")}
    if jobs != want:
        out.append(f"jobs {got['jobs']}, the reference {reference['jobs']}")
    a = {k: v.get("rows") for k, v in reference["files"].items()}
    b = {k: v.get("rows") for k, v in got["files"].items()}
    if a != b:  # which files (a leftover temporary one too) and their Parquet row counts
        # a file on one side only shows as missing (a non-Parquet file's rows are None)
        keys = sorted(k for k in set(a) | set(b) if k not in a or k not in b or a[k] != b[k])[:8]
        a = {k: a.get(k, "missing") for k in keys}
        b = {k: b.get(k, "missing") for k in keys}
        out.append(f"files differ: {[(k, a.get(k), b.get(k)) for k in keys]}")
    return out


def _closest(columns: list[str], extra: list[str], lacking: list[str]) -> str:
    """The columns in which the first extra row differs from the lacking row nearest it
    (the most columns alike), with both values; else the first rows of each."""
    if not extra or not lacking:
        return f"; extra {extra[:3]}; lacking {lacking[:3]}; columns {columns}"
    got = ast.literal_eval(extra[0])
    best = max(
        (ast.literal_eval(row) for row in lacking),
        key=lambda want: sum(a == b for a, b in zip(got, want, strict=True)),
    )
    differ = {c: _shown(b, a) for c, a, b in zip(columns, got, best, strict=True) if a != b}
    return f"; e.g. columns differing (reference, rerun): {differ}"


def _shown(want: Any, got: Any) -> tuple[str, str]:
    """Two differing values, short: of two JSON objects only the keys whose values differ
    (a record's details run long, and the difference is often at the end)."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        a, b = json.loads(want), json.loads(got)
        if isinstance(a, dict) and isinstance(b, dict):
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            want = json.dumps({k: a.get(k, "missing") for k in keys})
            got = json.dumps({k: b.get(k, "missing") for k in keys})
    return str(want)[:600], str(got)[:600]


def _atomic(
    kind: str, start: dict[str, Any], end: dict[str, Any], now: dict[str, Any]
) -> list[str]:
    """The kind's own tables right after the kill: each as at the start or as at the end."""
    out = []
    # a table the job leaves as it was (the import of an older analysis does not change
    # the current customers and states) says nothing about start or end
    tables = [
        t
        for t in ATOMIC.get(kind, ())
        if start["tables"][t]["digest"] != end["tables"][t]["digest"]
    ]
    for table in tables:
        digest = now["tables"][table]["digest"]
        if digest not in {start["tables"][table]["digest"], end["tables"][table]["digest"]}:
            out.append(
                f"{table} half-applied: {now['tables'][table]['count']} rows "
                f"(start {start['tables'][table]['count']}, end {end['tables'][table]['count']})"
            )
    states = {
        "start" if now["tables"][t]["digest"] == start["tables"][t]["digest"] else "end"
        for t in tables
        if t in now["tables"]
    }
    for table in ATOMIC_COUNTS.get(kind, ()):
        count = now["tables"][table]["count"]
        if count == start["tables"][table]["count"] != end["tables"][table]["count"]:
            states.add("start")
        elif count == end["tables"][table]["count"] != start["tables"][table]["count"]:
            states.add("end")
        else:
            out.append(f"{table}: {count} rows (start {start['tables'][table]['count']}, "
                       f"end {end['tables'][table]['count']})")  # fmt: skip
    if len(states) > 1:
        out.append(f"some tables at the start and some at the end: {sorted(states)}")
    return out


def _until_running(lab: Lab, job_id: str, pid: int, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = lab.job(job_id)
        if status != "queued":
            return status
        if lab.wait(pid, 0) is not None:
            return lab.job(job_id)[0]
        time.sleep(0.01)
    raise AssertionError(f"the job {job_id} was not started within {timeout} s")


def _run(lab: Lab, kind: str, setup: dict[str, Any], delay: float | None) -> dict[str, Any]:
    """One run from the kind's starting state; killed ``delay`` s after the job started."""
    lab.restore(kind)
    report: dict[str, Any] = {"delay": None if delay is None else round(delay, 3)}
    started = time.monotonic()
    if kind == "erase":
        pid = lab.fork("erase", customer=setup["customer"], out=str(lab.root / "erase.json"))
    else:
        pid = lab.fork("worker")
        report["status_at_start"] = _until_running(lab, setup["job"], pid)
        started = time.monotonic()
    if delay is None:
        code = lab.wait(pid, 600)
        assert code == 0, f"the worker ended with {code}: {lab._log(f'child-{pid}.log')}"
        report["seconds"] = time.monotonic() - started
        if kind == "erase":
            # the erasure queues the job that finishes it and runs it itself; the queue
            # entry is left for the next worker (which finds the job done): run that
            # worker here too, as every crash run does (a worker pass also queues the
            # day's loyalty job, so both sides must have had one)
            report["later_passes"] = _drain(lab)
        return report
    time.sleep(max(0.0, started + delay - time.monotonic()))
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    code = lab.wait(pid, 60)
    report["killed"] = code == -signal.SIGKILL
    if kind != "erase":
        report["status_at_kill"] = lab.job(setup["job"])[0]
    if report["killed"] and kind in ATOMIC:
        report["at_kill"] = lab.call("inspect", kind=kind, params=setup)
    # the killed job's heartbeat older than the lease, so that the new worker takes it up
    stale = 0.0 if kind == "erase" else lab.stale_in(setup["job"])
    if stale > LEASE:
        report["waited"] = round(stale, 1)  # a heartbeat set ahead (a long write)
    time.sleep(max(LEASE, stale) + 0.3)
    if kind == "erase":
        pid = lab.fork("erase", customer=setup["customer"], out=str(lab.root / "erase.json"))
    else:
        pid = lab.fork("worker")
    code = lab.wait(pid, 600)
    assert code == 0, f"the restarted worker ended with {code}: {lab._log(f'child-{pid}.log')}"
    if report.get("status_at_kill") == "succeeded":
        # killed after the job finished and before the worker's after-task hook: the
        # day's loyalty job, which that hook queues, waits for the next task any worker
        # finishes (in service, the scheduler's escalation within minutes; this suite's
        # workers run no scheduler): do what that next task's hook does
        report["after_task"] = lab.call("after_task")
    report["later_passes"] = _drain(lab)
    return report


def _drain(lab: Lab) -> int:
    """Run the worker again while a job is queued for the next few seconds (a delivery pass
    the restarted worker planned for when a killed pass's lease runs out); how often."""
    passes = 0
    for _ in range(5):
        due = lab.due_soon(seconds=10)
        if due is None:
            break
        time.sleep(max(0.0, due) + 0.2)
        pid = lab.fork("worker")
        code = lab.wait(pid, 600)
        assert code == 0, f"a later worker ended with {code}: {lab._log(f'child-{pid}.log')}"
        passes += 1
    return passes


#: Kinds whose crash runs found a difference not yet explained (a bug to find, not noise):
#: the test runs and reports them as XFAIL (XPASS when a random kill point misses the
#: bug; not strict for that reason; remove the entry once it is fixed). None now: the
#: entries of 2026-12-05 were plan_contact_messages (each message's signed unsubscribe
#: link carries the message's random key and its signing time: two clean runs differ so,
#: now compared decoded, see ``faults_kinds._signed``), deliver_outbox (a message found
#: delivered after a kill recorded an empty provider reference: fixed in the product),
#: and, found at 20 runs and never declared here, erase (a kill after the erasure's commit
#: and before its file cleaning left the record without ``files`` and a rerun answered
#: "already erased": the cleaning is now recorded stages done by a job, see
#: ``corecustomers.web.privacy.finish``) and export_survey_scores (a writer killed
#: mid-way left its temporary file in the workspace: now removed by the next writer).
KNOWN_BUGS: dict[str, str] = {}


#: Kinds whose job finds nothing to change in the starting state (what is checked: the job
#: completes once and changes nothing after a kill either).
IDLE: set[str] = set()


def _kinds() -> list[Any]:
    chosen = [k for k in KINDS if not SELECTED or k in SELECTED]
    return [
        pytest.param(k, marks=pytest.mark.xfail(strict=False, reason=KNOWN_BUGS[k]))
        if k in KNOWN_BUGS
        else k
        for k in chosen
    ]


@pytest.mark.parametrize("kind", _kinds())
def test_a_worker_killed_at_random_leaves_a_consistent_state_and_the_job_completes_once(
    lab: Lab, kind: str
) -> None:
    lab.restore("base")
    setup = lab.call("prepare", kind=kind, paths=lab.paths)
    lab.save(kind)
    start = lab.call("inspect", kind=kind, params=setup)

    clean = _run(lab, kind, setup, None)
    reference = lab.call("inspect", kind=kind, params=setup)
    if kind != "erase":
        target = reference["target"]
        assert target["status"] == "succeeded", target["error"]
        duration = float(target["seconds"])
    else:
        duration = float(clean["seconds"])
    problems = {name: found for name, found in reference["invariants"].items() if found}
    assert not problems, f"the reference run of {kind} breaks invariants: {problems}"

    changed = sorted(
        f"{t} {start['tables'][t]['count']}->{v['count']}"
        for t, v in reference["tables"].items()
        if v["digest"] != start["tables"].get(t, {}).get("digest")
    )
    before, after = start["files"], reference["files"]
    files = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
    if files:
        changed.append(f"{len(files)} workspace files")
    # a kind whose job changes nothing would make its kill runs check nothing
    assert bool(changed) != (kind in IDLE), f"{kind}: the reference run changed {changed}"
    lines = [f"{kind}: reference {duration:.2f} s, seed {SEED}, {RUNS} runs; changed {changed}"]
    failures: list[str] = []
    for i in range(RUNS):
        rng = random.Random(f"{SEED}:{kind}:{i}")
        delay = rng.uniform(0, duration)
        report = _run(lab, kind, setup, delay)
        got = lab.call("inspect", kind=kind, params=setup)
        found = _differences(reference, got)
        if "at_kill" in report:
            found += _atomic(kind, start, reference, report.pop("at_kill"))
        if kind != "erase":
            target = got["target"]
            report["attempts"] = target["attempts"]
            if target["status"] != "succeeded":
                found.append(f"the job ended {target['status']}: {target['error'][-500:]}")
        found += [f"{name}: {p}" for name, ps in got["invariants"].items() for p in ps]
        lines.append(f"  run {i}: {report}" + (f" -> {found}" if found else " ok"))
        if found:
            failures.append(f"run {i} (delay {report['delay']} s): {found}")
    print("\n".join(lines))
    assert not failures, f"{kind}: " + "\n".join(failures)


def test_a_restored_backup_gives_back_every_table_exactly(lab: Lab) -> None:
    """``corecustomers backup`` then ``restore`` (the real commands): every service table --
    every column, ids and times included -- is as it was at the backup, after a change in
    between (interactions logged). The starting state is the erasure scenario's: points,
    consents, planned messages, interactions, people and the imported analysis. ``test_backup.py`` checks the key tables on the CDNOW import; this
    checks all of them on a state where every app holds rows."""
    lab.restore("base")
    lab.call("prepare", kind="erase", paths=lab.paths)
    before = lab.call("inspect", kind="backup", params={}, whole=True)
    filled = [t for t, v in before["tables"].items() if v["count"]]
    assert len(filled) >= 15, f"too few tables hold rows to mean much: {filled}"
    backup = lab.root / ("service.dump" if lab.sqlite is None else "service.db")
    db = ["--db", lab.url, "--workspace", str(lab.workspace)]

    def cli(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "corecustomers", *args, *db],
            cwd=ROOT, env=lab.env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"

    cli("backup", str(backup))
    # a change in between: 300 interactions logged, their audit entries, a job queued (not
    # an erasure: a restore erases again whoever was erased after the backup, by design)
    lab.call("prepare", kind="export_interactions", paths=lab.paths)
    changed = lab.call("inspect", kind="backup", params={}, whole=True)
    assert changed["tables"] != before["tables"]
    cli("restore", str(backup))
    after = lab.call("inspect", kind="backup", params={}, whole=True)
    differ = [t for t in before["tables"] if before["tables"][t] != after["tables"].get(t)]
    assert differ == [], f"tables not restored exactly: {differ}"
    assert set(after["tables"]) == set(before["tables"])
