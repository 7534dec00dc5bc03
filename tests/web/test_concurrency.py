"""``corecustomers analyze`` on the service's workspace while the service serves and imports.

Real processes only: ``corecustomers serve`` (waitress and its worker) on a file SQLite
database, and ``corecustomers analyze`` started while the worker is importing the
previous analysis. The CLI must finish (waiting with backoff if the worker holds the
workspace) and the service must pick the new run up by itself (the worker's watch of the
workspace's run markers), as ``GET /api/v1/jobs/{id}`` and the database show.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from corecustomers.data.synthetic import write_demo_csv

T = TypeVar("T")

PASSWORD = "correct-horse-battery-9"


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


def _rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
        return con.execute(sql, params).fetchall()


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A running ``corecustomers serve`` on ``tmp_path``; stopped (with its worker) after."""
    db = tmp_path / "service.sqlite3"
    env = {
        **os.environ,
        "CORECUSTOMERS_DB": f"sqlite:///{db}",
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
        url = ""
        for line in server.stdout:
            found = re.search(r"(http://[\d.]+:\d+/)", line)
            if found:
                url = found.group(1)
                break
        assert url, "serve printed no URL"
        yield url, db, env
    finally:
        try:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # anything left, the worker included
        server.wait(timeout=10)


def test_analyze_while_the_worker_imports_and_the_service_picks_it_up(
    tmp_path: Path, service: tuple[str, Path, dict[str, str]]
) -> None:
    url, db, env = service
    data = tmp_path / "sales.csv"
    write_demo_csv(data, n_customers=4000, seed=3)
    common = ("--workspace", str(tmp_path), "--source-name", "sales")
    _cli("createuser", "boss", "--role", "admin", "--password-stdin", env=env, stdin=PASSWORD)
    token = _cli("token", "boss", env=env).strip()

    # The first analysis: the worker finds its marker and starts importing it.
    _cli(
        "analyze",
        str(data),
        "--as-of",
        "2024-06-30",
        "--out",
        str(tmp_path / "first"),
        *common,
        env=env,
    )
    first_job = _until(
        "the worker to start importing the first analysis",
        lambda: _rows(
            db,
            "SELECT id FROM jobs_job WHERE kind = 'import_analysis' AND status = 'running'",
        ),
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
        lambda: _rows(
            db,
            "SELECT id FROM jobs_job WHERE kind = 'import_analysis' AND status = 'succeeded' "
            "AND json_extract(params, '$.run_id') = ?",
            second["run_id"],
        ),
    )[0][0]
    job = _get(f"{url}api/v1/jobs/{job_id}", token)
    assert job["status"] == "succeeded", job
    assert job["result"]["run_id"] == second["run_id"]
    assert job["result"]["state_updated"] is True
    first_status = _rows(db, "SELECT status FROM jobs_job WHERE id = ?", first_job[0])[0][0]
    assert first_status == "succeeded"
    analyses = _rows(db, "SELECT as_of FROM customers_analysis ORDER BY as_of")
    assert [row[0] for row in analyses] == ["2024-06-30", "2024-12-31"]
    (latest,) = _rows(db, "SELECT DISTINCT as_of FROM customers_customerstate")
    assert latest[0] == "2024-12-31"
    # one history point per customer and analysis
    points = _rows(db, "SELECT COUNT(*) FROM customers_customerhistory")[0][0]
    first_summary = json.loads((tmp_path / "first" / "summary.json").read_text(encoding="utf-8"))
    assert points == first_summary["customers"] + second["customers"]
