"""``history`` on several processes: the settings that choose how many, and a failure.

That the snapshots of a history on two processes equal ``analyze --as-of``'s is
``tests/service/test_history.py``; here, what a worker's failure does: it is raised by
the command with its own type and message, the workers are stopped, and nothing after
the failed date is saved.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import multiprocessing
import os
import pickle
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from corecustomers.config import Settings
from corecustomers.data.demo import write_demo_csv
from corecustomers.errors import ConfigError, OutputError, TooManyBadRowsError
from corecustomers.service import history as history_module
from corecustomers.service import history_jobs
from corecustomers.service.analysis import Prepared, prepare
from corecustomers.service.concurrency import quiet_ibis_cache_races
from corecustomers.service.history import history
from corecustomers.service.history_jobs import (
    MAX_JOBS,
    WORKER_IMPORTS,
    jobs_for,
    run_dates,
    worker_engine,
)
from corecustomers.service.progress import NullProgress
from corecustomers.service.side_steps import CoreOptions
from corecustomers.store import Workspace

TODAY = dt.date(2026, 11, 23)

#: history's options on several processes (the state read just before the tiers)
OPTIONS = CoreOptions(evaluate=False, recommendations=False, late_state=True)


def _prepared(tmp_path: Path) -> tuple[Settings, Prepared]:
    """Settings with a workspace in ``tmp_path`` and a 600-customer demo prepared."""
    path = tmp_path / "demo.csv"
    write_demo_csv(path, n_customers=600, seed=5)
    settings = Settings(currency="¥", model="bgnbd", workspace=str(tmp_path / "ws"))
    prepared = prepare(
        str(path),
        settings,
        staging_dir=tmp_path,
        quarantine_path=tmp_path / "quarantine.csv",
        today=TODAY,
    )
    return settings, prepared


def _on_two(
    prepared: Prepared, settings: Settings, dates: list[dt.date], workspace: Any, folder: Path
) -> list[dict[str, Any]]:
    """``run_dates`` of ``dates`` on two worker processes, with ``workspace`` answering
    the calls the workers make (a wrapper around a real workspace)."""
    return run_dates(
        prepared,
        settings,
        dates,
        options=OPTIONS,
        workspace=workspace,
        jobs=2,
        folder=folder,
        progress=NullProgress(),
    )


def test_jobs_follow_the_setting_the_cpus_and_the_dates() -> None:
    assert jobs_for(Settings(jobs=1), 36) == 1
    assert jobs_for(Settings(jobs=3), 36) == 3
    assert jobs_for(Settings(jobs=3), 2) == 2  # never more processes than dates
    assert 1 <= jobs_for(Settings(), 36) <= MAX_JOBS
    with pytest.raises(ConfigError, match=r"analysis\.jobs"):
        Settings(jobs=-1)


def _loaded(conn: Any) -> None:
    """A worker's first act: say which of :data:`WORKER_IMPORTS` it has loaded."""
    conn.send(sorted(name for name in WORKER_IMPORTS if name in sys.modules))
    conn.close()


def test_a_worker_starts_with_its_imports_loaded() -> None:
    """The workers are forked from a server that has imported what they need (a name
    that no longer imports would cost every worker its imports again, silently)."""
    for name in WORKER_IMPORTS:
        importlib.import_module(name)
    context = history_jobs.worker_context()
    assert context.get_start_method() == "forkserver"  # Linux
    mine, theirs = context.Pipe()
    process = context.Process(target=_loaded, args=(theirs,), daemon=True)
    process.start()
    theirs.close()
    assert mine.recv() == sorted(WORKER_IMPORTS)
    process.join(timeout=30)
    assert process.exitcode == 0


def _spill_and_end(spill: str) -> None:
    """A worker whose DuckDB spills to ``spill`` and whose connection is still held in a
    reference cycle when it ends (as a worker's frames hold it)."""
    with worker_engine("64MB", spill, 1) as con:
        con.raw_sql("SET preserve_insertion_order = false")
        con.raw_sql(
            "CREATE TABLE t AS SELECT hash(range) AS a, repeat('x', 40) || hash(range)::VARCHAR"
            " AS b FROM range(3000000) ORDER BY b"
        )
        spilled = [p.name for p in Path(spill).glob("*")]
        held: list[Any] = [con]
        held.append(held)
    if not spilled:
        raise AssertionError("the query did not spill: the test checks nothing")


def test_a_worker_leaves_no_spill_files(tmp_path: Path) -> None:
    """A worker forked from the server ends without the interpreter's shutdown; its
    DuckDB is closed all the same, so the spill files of a ``temp_directory`` go."""
    spill = tmp_path / "history-worker-0"
    context = history_jobs.worker_context()
    process = context.Process(target=_spill_and_end, args=(str(spill),), daemon=True)
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 0
    assert not spill.exists() or list(spill.iterdir()) == []


def test_the_workers_are_spawned_where_the_fork_server_cannot_start(tmp_path: Path) -> None:
    """A temporary folder whose path is too long for the server's socket: the workers are
    spawned instead of the history failing."""
    import subprocess

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    code = (
        "from corecustomers.service.history_jobs import worker_context; "
        "print(worker_context().get_start_method())"
    )
    env = {**os.environ, "TMPDIR": str(deep)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "spawn"


class _FullDisk:
    """A workspace whose second snapshot cannot be written."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.written: list[dt.date] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.workspace, name)

    def write_snapshot(self, day: dt.date, *args: Any, **kwargs: Any) -> None:
        if self.written:
            raise OutputError("the disk is full")
        self.workspace.write_snapshot(day, *args, **kwargs)
        self.written.append(day)


def test_a_failure_in_a_worker_is_raised_and_the_workers_stop(tmp_path: Path) -> None:
    settings, prepared = _prepared(tmp_path)
    dates = [dt.date(2024, 8, 31), dt.date(2024, 9, 30), dt.date(2024, 10, 31)]
    with Workspace.open(settings.workspace) as workspace:
        full = _FullDisk(workspace)
        with pytest.raises(OutputError, match="the disk is full"):
            _on_two(prepared, settings, dates, full, tmp_path)
        assert full.written == dates[:1]
        assert workspace.snapshot_dates(workspace.resolve_source(None)) == dates[:1]
    assert multiprocessing.active_children() == []


def test_an_input_error_crosses_processes_whole() -> None:
    """A worker's input error reaches the command with its type, file, row and column."""
    error = TooManyBadRowsError("too many bad rows", file="sales.csv", row=7, column="amount")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is TooManyBadRowsError
    assert (copy.file, copy.row, copy.column, str(copy)) == ("sales.csv", 7, "amount", str(error))


def test_only_ibis_cache_races_are_kept_off_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    quiet_ibis_cache_races()
    quiet_ibis_cache_races()  # once only: the hook is not wrapped twice

    def unraisable(exc_type: type[BaseException], qualname: str) -> SimpleNamespace:
        return SimpleNamespace(exc_type=exc_type, object=SimpleNamespace(__qualname__=qualname))

    sys.unraisablehook(unraisable(KeyError, "Comparable.__del__"))
    other = unraisable(KeyError, "Other.__del__")
    sys.unraisablehook(other)
    sys.unraisablehook(unraisable(ValueError, "Comparable.__del__"))
    assert [u.object.__qualname__ for u in seen] == ["Other.__del__", "Comparable.__del__"]


def test_two_processes_store_the_snapshots_of_one_overrides_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state a worker reads through the command -- the previous snapshot and the
    overrides in force -- is the one process' state: an override set before the history
    holds in every snapshot of both, and the snapshots agree (tiers and their dates,
    alerts exactly; the model columns to the fits' tolerance)."""
    path = tmp_path / "demo.csv"
    write_demo_csv(path, n_customers=600, seed=5)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        held = next(csv.DictReader(fh))["会员号"]  # the first row's customer
    snapshots = {}
    started: list[int] = []

    def spied(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs["jobs"])
        return run_dates(*args, **kwargs)

    monkeypatch.setattr(history_module, "run_dates", spied)
    for jobs in (1, 2):
        settings = Settings(
            currency="¥", model="bgnbd", workspace=str(tmp_path / f"ws{jobs}"), jobs=jobs
        )
        with Workspace.open(settings.workspace) as workspace:
            workspace.add_override(held, "strategic", by="test", reason="flagship", until=None)
        history(
            str(path),
            settings,
            every="month",
            start=dt.date(2024, 9, 1),
            end=dt.date(2024, 11, 30),
            out_dir=tmp_path / f"out{jobs}",
            today=TODAY,
        )
        with Workspace.open(settings.workspace) as workspace:
            name = workspace.resolve_source(None)
            snapshots[jobs] = {
                d: workspace.read_snapshot(d, source_name=name).sort_by("customer_id")
                for d in workspace.snapshot_dates(name)
            }
    assert (
        list(snapshots[2])
        == list(snapshots[1])
        == [
            dt.date(2024, 9, 30),
            dt.date(2024, 10, 31),
            dt.date(2024, 11, 30),
        ]
    )
    for day, one in snapshots[1].items():
        two = snapshots[2][day]
        for column in ("customer_id", "tier", "previous_tier", "tier_since", "alert"):
            assert two.column(column).to_pylist() == one.column(column).to_pylist(), (day, column)
        for column in ("core_score", "clv", "p_alive"):
            a = np.asarray(two.column(column).to_pylist(), dtype=float)
            b = np.asarray(one.column(column).to_pylist(), dtype=float)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9, err_msg=f"{day} {column}")
        ids = one.column("customer_id").to_pylist()
        assert two.column("tier")[ids.index(held)].as_py() == "strategic", day
        assert "flagship" in two.column("tier_reasons")[ids.index(held)].as_py(), day


class _Watched:
    """A workspace that records the calls it answers and holds the first date's first
    read for a while (so that the second date's worker asks for its state meanwhile)."""

    def __init__(self, workspace: Workspace, first: dt.date) -> None:
        self.workspace = workspace
        self.first = first
        self.calls: list[tuple[str, dt.date]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.workspace, name)

    def latest_before(self, day: dt.date, name: str) -> dt.date | None:
        if day == self.first:
            time.sleep(3.0)
        self.calls.append(("latest_before", day))
        return self.workspace.latest_before(day, name)

    def write_snapshot(self, day: dt.date, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("write_snapshot", day))
        self.workspace.write_snapshot(day, *args, **kwargs)


def test_a_date_reads_the_workspace_only_after_the_date_before_is_saved(tmp_path: Path) -> None:
    """The second date's worker asks for its state while the first date is still held;
    the command answers it only after the first date's snapshot is written."""
    settings, prepared = _prepared(tmp_path)
    dates = [dt.date(2024, 9, 30), dt.date(2024, 10, 31)]
    with Workspace.open(settings.workspace) as workspace:
        watched = _Watched(workspace, dates[0])
        lines = _on_two(prepared, settings, dates, watched, tmp_path)
    assert watched.calls == [
        ("latest_before", dates[0]),
        ("write_snapshot", dates[0]),
        ("latest_before", dates[1]),
        ("write_snapshot", dates[1]),
    ]
    assert [line["previous_as_of"] for line in lines] == [None, dates[0].isoformat()]
