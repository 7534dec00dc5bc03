"""Steps side by side: the shared DuckDB connection behind a lock, the background thread,
and an analysis whose results are the same as with the steps one after another."""

from __future__ import annotations

import contextvars
import datetime as dt
import gc
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import corecustomers.service.core as core
import corecustomers.service.side_steps as side_steps
from corecustomers.config import Settings
from corecustomers.data.demo import write_demo_csv
from corecustomers.service import analyze
from corecustomers.service.analysis import analyse_prepared, prepare, staging_dir
from corecustomers.service.concurrency import Background, Timings, shared_engine

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def cached() -> ir.Table:
    con = ibis.duckdb.connect()
    rows = pa.table({"k": [i % 7 for i in range(20_000)], "v": [float(i) for i in range(20_000)]})
    # like prepare(keep_rows=True): the rows in a temporary table of the connection
    return con.create_table("rows", rows).cache()


def test_shared_engine_runs_queries_from_two_threads_one_at_a_time(cached: ir.Table) -> None:
    backend: Any = cached._find_backend()
    raw = backend.con
    expected = cached.group_by("k").aggregate(s=cached.v.sum()).order_by("k").to_pyarrow()
    results: list[pa.Table] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                expr = cached.group_by("k").aggregate(s=cached.v.sum()).order_by("k")
                results.append(expr.to_pyarrow())
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    with shared_engine(cached) as parallel:
        assert parallel
        assert backend.con is not raw
        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert backend.con is raw
    assert not errors
    assert len(results) == 40 and all(r.equals(expected) for r in results)


def test_shared_engine_execute_fetches_its_whole_result(cached: ir.Table) -> None:
    backend: Any = cached._find_backend()
    with shared_engine(cached):
        first = backend.con.execute("SELECT 1 AS a UNION ALL SELECT 2 ORDER BY a")
        second = backend.con.execute("SELECT 'x' AS b")  # does not replace the first's rows
        assert first.fetchone() == (1,)
        assert first.fetchall() == [(2,)]
        assert second.fetch_arrow_table().column("b").to_pylist() == ["x"]
        assert [d[0] for d in second.description] == ["b"]


def test_shared_engine_caches_a_table_while_steps_run_side_by_side(cached: ir.Table) -> None:
    # Ibis' cache() creates the table and then inserts through what execute() returned
    # (DuckDB returns the connection itself): the serialised connection's results must
    # take that second statement too
    with shared_engine(cached):
        kept = cached.filter(cached.k == 3).cache()
        assert kept.count().to_pyarrow().as_py() == sum(1 for i in range(20_000) if i % 7 == 3)
        kept.release()


@pytest.fixture
def viewed(tmp_path: Path) -> ir.Table:
    """Rows read from a Parquet file, as the analysis reads its source and kept rows:
    a temporary view of the connection, no temporary table."""
    con = ibis.duckdb.connect()
    rows = pa.table({"k": [i % 7 for i in range(20_000)], "v": [float(i) for i in range(20_000)]})
    pq.write_table(rows, tmp_path / "rows.parquet")
    return con.read_parquet(tmp_path / "rows.parquet")


def test_shared_engine_gives_each_thread_a_connection_of_its_own(viewed: ir.Table) -> None:
    backend: Any = viewed._find_backend()
    raw = backend.con
    names = ibis.memtable({"k": list(range(7)), "name": [f"k{i}" for i in range(7)]})
    joined = viewed.join(names, "k").group_by("name").aggregate(s=viewed.v.sum()).order_by("name")
    expected = joined.to_pyarrow()  # the in-memory table registered before the block
    results: dict[str, list[pa.Table]] = {}
    connections: dict[str, Any] = {}
    errors: list[BaseException] = []
    both_running = threading.Barrier(2, timeout=30)
    threads_before = raw.execute("SELECT current_setting('threads')").fetchone()

    def work() -> None:
        name = threading.current_thread().name
        try:
            # each thread's first call makes its connection; both then query at once
            connections[name] = backend.con.connection()
            both_running.wait()
            results[name] = [joined.to_pyarrow() for _ in range(10)]
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    with shared_engine(viewed) as parallel:
        assert parallel
        assert backend.con.execute("SELECT current_setting('threads')").fetchone() == (1,)
        threads = [threading.Thread(target=work, name=f"t{i}") for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert backend.con is raw
    assert raw.execute("SELECT current_setting('threads')").fetchone() == threads_before
    assert connections["t0"] is not connections["t1"]
    assert raw not in connections.values()
    assert all(r.equals(expected) for rs in results.values() for r in rs) and len(results) == 2


def test_shared_engine_shows_what_one_thread_makes_to_the_others(
    viewed: ir.Table, tmp_path: Path
) -> None:
    # a view (kept rows read back from a file) and an in-memory table made on a second
    # thread are seen by the calling thread, and by the connection after the block
    backend: Any = viewed._find_backend()
    made: list[ir.Table] = []

    def work() -> None:
        kept = viewed.filter(viewed.k == 3)
        backend.to_parquet(kept, tmp_path / "kept.parquet")
        view = backend.read_parquet(tmp_path / "kept.parquet")
        extra = ibis.memtable({"k": [3], "label": ["three"]})
        made.append(view.join(extra, "k"))
        assert made[0].count().to_pyarrow().as_py() > 0

    with shared_engine(viewed):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        assert len(made) == 1
        on_caller = made[0].count().to_pyarrow().as_py()
    after = made[0].count().to_pyarrow().as_py()
    assert on_caller == after == sum(1 for i in range(20_000) if i % 7 == 3)


def test_shared_engine_keeps_each_result_whole_and_the_sessions_settings(
    viewed: ir.Table,
) -> None:
    # a statement's rows are fetched at once: registering a table on another thread
    # (replayed on this thread's connection before its next call) cannot replace them;
    # and each connection has Ibis' session settings (the time zone)
    backend: Any = viewed._find_backend()
    seen: dict[str, Any] = {}

    def work() -> None:
        result = backend.con.execute("SELECT 1 AS a UNION ALL SELECT 2 ORDER BY a")
        seen["zone"] = backend.con.execute("SELECT current_setting('TimeZone')").fetchone()
        registered.wait(timeout=30)
        seen["rows"] = result.fetchall()

    registered = threading.Event()
    with shared_engine(viewed):
        thread = threading.Thread(target=work)
        thread.start()
        backend.con.register("extra", pa.table({"x": [1]}))
        registered.set()
        thread.join()
    assert seen == {"zone": ("UTC",), "rows": [(1,), (2,)]}


def test_shared_engine_gives_cursors_despite_collected_in_memory_tables(
    viewed: ir.Table,
) -> None:
    # Ibis unregisters an in-memory table only at exit: one collected before the block
    # leaves a name nobody can read any more, which must not keep the block to one lock
    backend: Any = viewed._find_backend()
    gone = ibis.memtable({"a": [1]})
    assert backend.to_pyarrow(gone).num_rows == 1
    del gone
    gc.collect()
    with shared_engine(viewed):
        assert type(backend.con).__name__ == "_PerThread"


def test_shared_engine_keeps_a_temporary_table_behind_one_lock(cached: ir.Table) -> None:
    # a temporary table belongs to its connection alone: no cursor would see it
    backend: Any = cached._find_backend()
    with shared_engine(cached):
        assert type(backend.con).__name__ == "_Serial"


def test_shared_engine_keeps_other_engines_to_one_thread(tmp_path: Path) -> None:
    con = ibis.sqlite.connect(tmp_path / "x.db")
    table = con.create_table("t", pa.table({"a": [1]}))
    with shared_engine(table) as parallel:
        assert not parallel


def test_background_runs_beside_the_block_with_the_callers_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("set")
    seen: list[str] = []

    def work() -> str:
        seen.append(threading.current_thread().name)
        return var.get()

    with Background(work, parallel=True) as background:
        assert background.result() == "set"
    assert seen[0] != threading.current_thread().name
    with Background(work, parallel=False) as background:
        assert len(seen) == 1  # deferred to result(), on this thread
        assert background.result() == "set"
    assert seen[1] == threading.current_thread().name


def test_background_raises_the_threads_error_and_waits_after_a_failure() -> None:
    def fails() -> None:
        raise ValueError("in the thread")

    with pytest.raises(ValueError, match="in the thread"), Background(fails, parallel=True) as b:
        b.result()
    finished = threading.Event()

    def slow() -> None:
        finished.wait(0.2)
        finished.set()

    with pytest.raises(RuntimeError), Background(slow, parallel=True):
        raise RuntimeError("on the calling thread")
    assert finished.is_set()  # the block's exit waited for the thread


def test_timings_keep_each_steps_seconds() -> None:
    timings = Timings()
    with timings.step("a"):
        pass
    assert set(timings.seconds) == {"a"} and timings.seconds["a"] >= 0


@contextmanager
def _one_thread(transactions: ir.Table) -> Iterator[bool]:
    yield False


def _outputs(path: Path) -> tuple[pa.Table, dict[str, Any]]:
    summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    for key in ("run_id", "generated_at"):
        summary.pop(key, None)
    # the customers' order follows DuckDB's parallel grouping, in either case
    return pq.read_table(path / "customers.parquet").sort_by("customer_id"), summary


def test_analysis_side_by_side_equals_one_step_after_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = tmp_path / "demo.csv"
    write_demo_csv(demo, n_customers=1500, seed=11)
    runs = {}
    for name in ("side_by_side", "sequential"):
        if name == "sequential":
            monkeypatch.setattr(side_steps, "shared_engine", _one_thread)
        settings = Settings(
            workspace=str(tmp_path / name / "ws"), calibration_end=dt.date(2024, 9, 30)
        )
        analyze(str(demo), tmp_path / name / "out", settings, today=TODAY)
        runs[name] = _outputs(tmp_path / name / "out")
    (a, a_summary), (b, b_summary) = runs["side_by_side"], runs["sequential"]
    assert a.column_names == b.column_names
    for column in a.column_names:
        got, want = a.column(column), b.column(column)
        if pa.types.is_floating(got.type):
            assert np.allclose(got, want, rtol=1e-6, equal_nan=True), column
        elif column == "tier_reasons":  # JSON holding each condition's value
            _same(_json(got), _json(want), column)
        else:
            assert got.equals(want), column
    a_summary.pop("settings"), b_summary.pop("settings")  # the workspace's folder
    _same(a_summary, b_summary, "summary")


def _json(column: pa.ChunkedArray) -> list[Any]:
    return [None if v is None else json.loads(v) for v in column.to_pylist()]


def _same(got: Any, want: Any, path: str) -> None:
    """Equal, floats to 1e-6: DuckDB's parallel grouping orders the customers differently
    from run to run (two runs one step after another differ the same way), which moves
    sums in their last bits and a model's numerical standard errors in their 7th digit;
    an average precision to 1e-2, as scores a last bit apart can split a tie."""
    if isinstance(got, dict) and isinstance(want, dict):
        assert got.keys() == want.keys(), path
        for key in got:
            _same(got[key], want[key], f"{path}.{key}")
    elif isinstance(got, list) and isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(got, float) and isinstance(want, float):
        tolerance = 1e-2 if path.endswith("average_precision") else 1e-6
        assert got == pytest.approx(want, rel=tolerance, nan_ok=True), path
    else:
        assert got == want, path


def test_ranking_beside_the_risk_gives_the_sequential_columns_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core ranking and the churn risk on two threads (and the query-only steps on a
    third) give the same columns and figures, to the last bit, as one after another:
    the fits' warnings stay on their thread and nothing reads another's state. DuckDB
    runs on one thread here so that its sums add up in one order in both runs."""
    demo = tmp_path / "demo.csv"
    write_demo_csv(demo, n_customers=1500, seed=11)
    settings = Settings(calibration_end=dt.date(2024, 9, 30))
    threads: dict[str, set[str]] = {"ranking": set(), "risk": set()}

    def spy(step: str, function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            threads[step].add(threading.current_thread().name)
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(core, "RISK_BESIDE_FROM_CPUS", 1)  # the risk beside on any machine
    monkeypatch.setattr(core, "rank_customers", spy("ranking", core.rank_customers))
    monkeypatch.setattr(core, "churn_risk", spy("risk", core.churn_risk))
    runs = {}
    with staging_dir() as staging:
        prepared = prepare(
            str(demo),
            settings,
            staging_dir=staging,
            quarantine_path=tmp_path / "q.csv",
            today=TODAY,
        )
        prepared.transactions._find_backend().con.execute("SET threads TO 1")
        for name in ("side_by_side", "sequential"):
            if name == "sequential":
                monkeypatch.setattr(side_steps, "shared_engine", _one_thread)
            customers, steps = analyse_prepared(prepared, settings, workspace=None)
            summary = steps.to_json()
            for key in ("run_id", "generated_at"):
                summary.pop(key, None)
            runs[name] = (customers, summary, {k: set(v) for k, v in threads.items()})
            for seen in threads.values():
                seen.clear()
    (a, a_summary, a_threads), (b, b_summary, b_threads) = runs["side_by_side"], runs["sequential"]
    assert a_threads["ranking"] != a_threads["risk"]  # side by side: two threads
    assert b_threads["ranking"] == b_threads["risk"]  # in sequence: one
    assert a.column_names == b.column_names
    for column in a.column_names:
        assert a.column(column).equals(b.column(column)), column
    # both fitted their shifted models: the ranking validated the boosted one, the risk
    # scores with its classifier
    assert a_summary["core_score"]["validation"]["method"] == "time-shifted"
    assert a_summary["alerts"]["risk"]["method"] == "model"
    assert a_summary["core_score"] == b_summary["core_score"]
    assert a_summary["alerts"] == b_summary["alerts"]
    assert json.dumps(a_summary, sort_keys=True, default=str) == json.dumps(
        b_summary, sort_keys=True, default=str
    )
