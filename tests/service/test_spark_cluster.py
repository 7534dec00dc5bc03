"""``analyze --engine spark`` on a real Spark standalone cluster equals DuckDB's analysis.

The test starts a master and two workers (one core and 1 GB each) from the installed
PySpark on localhost (:mod:`benchmarks.spark_cluster`), waits until both have registered,
runs the whole command with ``SPARK_MASTER=spark://127.0.0.1:PORT`` on the CDNOW sample
and on a small demo data set, and stops the cluster at the end. Every per-customer column of ``customers.parquet`` and
the summary's counts and model estimates must equal the DuckDB run of the same file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from benchmarks.spark_cluster import ClusterError, standalone

from corecustomers.data.demo import write_demo_csv

pytestmark = [pytest.mark.spark, pytest.mark.slow]

FIXTURES = Path(__file__).parents[1] / "fixtures"
CDNOW = FIXTURES / "CDNOW_sample.txt"
CDNOW_FLAGS = ["--customer-col", "1", "--date-col", "3", "--amount-col", "5"]
CLI = Path(sys.executable).parent / "corecustomers"


@pytest.fixture(scope="module")
def spark_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT`` of a master with two registered workers."""
    pytest.importorskip("pyspark", reason="pyspark is not installed")
    try:
        with standalone(tmp_path_factory.mktemp("cluster"), workers=2) as master:
            yield master
    except ClusterError as exc:
        pytest.fail(str(exc))


def _analyze(source: Path, out: Path, *flags: str, master: str | None = None) -> Path:
    env = {**os.environ, "SPARK_SHUFFLE_PARTITIONS": "4"}
    env.pop("SPARK_MASTER", None)
    engine = ["--engine", "duckdb"]
    if master is not None:
        env["SPARK_MASTER"] = master
        engine = ["--engine", "spark"]
    done = subprocess.run(
        [str(CLI), "analyze", str(source), *flags, *engine, "--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _same(a: Any, b: Any, where: str) -> None:
    """Equal, floats to 1e-9 relative (sums over partitions add in another order)."""
    if isinstance(a, str) and a[:1] in "[{" and isinstance(b, str):
        with contextlib.suppress(ValueError):  # reasons are JSON with numbers inside
            a, b = json.loads(a), json.loads(b)
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float | int):
        if not (math.isnan(a) and math.isnan(b)):
            assert b == pytest.approx(a, rel=1e-9, abs=1e-9), where
    else:
        assert a == b, where


def _compare(duck: Path, spark: Path) -> None:
    a = pq.read_table(duck / "customers.parquet").sort_by("customer_id")
    b = pq.read_table(spark / "customers.parquet").sort_by("customer_id")
    assert a.schema.names == b.schema.names
    assert a.num_rows == b.num_rows > 0
    for name in a.schema.names:
        for i, (x, y) in enumerate(zip(a[name].to_pylist(), b[name].to_pylist(), strict=True)):
            _same(x, y, f"{name}[{i}]")
    sa = json.loads((duck / "summary.json").read_text(encoding="utf-8"))
    sb = json.loads((spark / "summary.json").read_text(encoding="utf-8"))
    assert sb["settings"]["engine"] == "spark"
    for key in ("rows", "customers", "tiers", "abc", "rfm"):
        if key in sa:
            _same(sa[key], sb[key], key)
    for name, model in sa.get("models", {}).items():
        if isinstance(model, dict) and "params" in model:
            # the estimates are equal; their numerical-Hessian standard errors are not
            # compared (finite differences amplify the last bits of the sums)
            _same(model["params"], sb["models"][name]["params"], f"models.{name}.params")


def test_analyze_on_a_standalone_cluster_equals_duckdb_on_cdnow(
    spark_master: str, tmp_path: Path
) -> None:
    duck = _analyze(CDNOW, tmp_path / "duck", *CDNOW_FLAGS)
    spark = _analyze(CDNOW, tmp_path / "spark", *CDNOW_FLAGS, master=spark_master)
    _compare(duck, spark)


def test_analyze_on_a_standalone_cluster_equals_duckdb_on_the_demo(
    spark_master: str, tmp_path: Path
) -> None:

    source = tmp_path / "demo-transactions.csv"
    write_demo_csv(source, n_customers=300, seed=7)
    duck = _analyze(source, tmp_path / "duck")
    spark = _analyze(source, tmp_path / "spark", master=spark_master)
    _compare(duck, spark)
