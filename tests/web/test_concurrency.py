"""``corecustomers analyze`` on the service's workspace while the service serves and imports.

Real processes only: ``corecustomers serve`` (waitress and its worker) on a database of its
own -- a file SQLite database, or in the PostgreSQL pass of ``make test``
(``CORECUSTOMERS_TEST_DB`` set) a new PostgreSQL database -- and ``corecustomers analyze``
started while the worker is importing the previous analysis. The CLI must finish (waiting
with backoff if the worker holds the workspace) and the service must pick the new run up
by itself (the worker's watch of the workspace's run markers), as
``GET /api/v1/jobs/{id}`` and the database show.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from corecustomers.data.demo import write_demo_csv

T = TypeVar("T")

PASSWORD = "correct-horse-battery-9"
Query = Callable[[str], list[tuple[Any, ...]]]


@dataclass
class Service:
    url: str
    env: dict[str, str]
    query: Query


def _cli(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "corecustomers", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, f"{args[0]} failed: {run.stderr}"
    return run.stdout


def _until(what: str, probe: Callable[[], T | None], timeout: float = 240.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Query]]:
    """The service database's URL and a read-only query function for the test."""
    test_db = os.environ.get("CORECUSTOMERS_TEST_DB", "")
    if not test_db.startswith("postgres"):
        path = tmp_path / "service.sqlite3"

        def query(sql: str) -> list[tuple[Any, ...]]:
            with contextlib.closing(
                sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            ) as con:
                return con.execute(sql).fetchall()

        yield f"sqlite:///{path}", query
        return
    import psycopg

    name = f"cc_concurrency_{uuid.uuid4().hex[:10]}"
    base = test_db.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{base}/{name}"

        def pg_query(sql: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(url) as con:
                return con.execute(sql).fetchall()  # type: ignore[arg-type]

        try:
            yield url, pg_query
        finally:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def service(tmp_path: Path, database: tuple[str, Query]) -> Iterator[Service]:
    """A running ``corecustomers serve`` on ``tmp_path``; stopped (with its worker) after."""
    url, query = database
    env = {
        **os.environ,
        "CORECUSTOMERS_DB": url,
        "CORECUSTOMERS_WORKSPACE": str(tmp_path),
        "CORECUSTOMERS_WATCH_SECONDS": "0.5",
        "CORECUSTOMERS_ENV": "development",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "corecustomers", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its worker joins the group: one signal stops both
    )
    try:
        assert server.stdout is not None
        served = ""
        for line in server.stdout:
            found = re.search(r"(http://[\d.]+:\d+/)", line)
            if found:
                served = found.group(1)
                break
        assert served, "serve printed no URL"
        yield Service(served, env, query)
    finally:
        try:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # anything left, the worker included
        server.wait(timeout=10)


def _import_jobs(service: Service) -> list[tuple[str, str, dict[str, Any]]]:
    rows = service.query("SELECT id, status, params FROM jobs_job WHERE kind = 'import_analysis'")
    return [
        (str(pk), status, json.loads(params) if isinstance(params, str) else params)
        for pk, status, params in rows
    ]


def test_analyze_while_the_worker_imports_and_the_service_picks_it_up(
    tmp_path: Path, service: Service
) -> None:
    env = service.env
    data = tmp_path / "sales.csv"
    write_demo_csv(data, n_customers=4000, seed=3)
    common = ("--workspace", str(tmp_path), "--source-name", "sales")
    _cli("createuser", "boss", "--role", "admin", "--password-stdin", env=env, stdin=PASSWORD)
    token = _cli("token", "boss", env=env).strip()

    # The first analysis: the worker finds its marker and starts importing it.
    _cli("analyze", str(data), "--as-of", "2024-06-30", "--out", str(tmp_path / "first"),
         *common, env=env)  # fmt: skip
    first_job = _until(
        "the worker to start importing the first analysis",
        lambda: [job for job in _import_jobs(service) if job[1] == "running"],
    )[0]
    # The second, while that import runs: the CLI must succeed.
    analyze = subprocess.run(
        [
            *(sys.executable, "-m", "corecustomers", "analyze", str(data)),
            *("--as-of", "2024-12-31", "--out", str(tmp_path / "second"), *common),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert analyze.returncode == 0, analyze.stderr
    second = json.loads((tmp_path / "second" / "summary.json").read_text(encoding="utf-8"))

    # The service imports the second run by itself.
    job_id = _until(
        "the worker to import the second analysis",
        lambda: [
            pk
            for pk, status, params in _import_jobs(service)
            if status == "succeeded" and params.get("run_id") == second["run_id"]
        ],
    )[0]
    job = _get(f"{service.url}api/v1/jobs/{job_id}", token)
    assert job["status"] == "succeeded", job
    assert job["result"]["run_id"] == second["run_id"]
    assert job["result"]["state_updated"] is True
    assert {pk: status for pk, status, _ in _import_jobs(service)}[first_job[0]] == "succeeded"
    analyses = service.query("SELECT as_of FROM customers_analysis ORDER BY as_of")
    assert [str(row[0]) for row in analyses] == ["2024-06-30", "2024-12-31"]
    (latest,) = service.query("SELECT DISTINCT as_of FROM customers_customerstate")
    assert str(latest[0]) == "2024-12-31"
    # one history point per customer and analysis
    points = service.query("SELECT COUNT(*) FROM customers_customerhistory")[0][0]
    first_summary = json.loads((tmp_path / "first" / "summary.json").read_text(encoding="utf-8"))
    assert points == first_summary["customers"] + second["customers"]
