"""The scaling table: ``analyze`` on DuckDB and on a local Spark standalone cluster.

The ``cluster`` group of ``python -m benchmarks`` (:func:`run_cluster`; in the full run,
``--skip cluster`` leaves it out). For each size (``--cluster-customers``, repeatable;
by default a tenth of ``--customers`` and all of them, i.e. about 1M and 10M rows in the
full run) it uses the suite's transactions file (generated when missing), starts a master
and two workers (one core and 1 GB each) on localhost (:mod:`benchmarks.spark_cluster`)
and times the whole command ``corecustomers analyze FILE --out DIR --engine duckdb|spark``
from the outside, DuckDB and the cluster in turn, each in a fresh workspace; the report
gets a Markdown table with the ratio of each to DuckDB.

Examples::

    python -m benchmarks --only cluster                              # 100k and 1M customers
    python -m benchmarks --only cluster --cluster-customers 100000   # one size only
    python -m benchmarks.cluster --customers 100000                  # the same (older name)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.runner import DATA, Measurement, log
from benchmarks.spark_cluster import ClusterError, standalone
from benchmarks.suite import Report, analyze_command, dataset

DRIVER_MEMORY = "4g"
"""The Spark driver's memory for the cluster runs (``PYSPARK_SUBMIT_ARGS``, unless set)."""


def _analyze(name: str, path: Path, engine: str, timeout: float) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="analyze-ws-", dir=DATA) as workspace:
        return analyze_command(
            name, path, DATA / f"cluster-{name}", workspace, timeout, engine=engine
        )


def run_cluster(report: Report, sizes: Sequence[int]) -> None:
    """Measure ``analyze`` on DuckDB and on the cluster for each number of customers."""
    timeout = report.options.timeout
    data: dict[int, tuple[Path, int]] = {}
    for n in sizes:
        path = dataset(report, n, f"cluster.generate.{n}", measure=False)
        if path is None:
            report.notes.append(f"cluster: no data set for {n:,} customers")
            return
        data[n] = (path, int(report.checks[f"cluster.generate.{n}.rows"]))
    rows: list[tuple[int, int, Measurement, Measurement]] = []
    previous = os.environ.get("SPARK_MASTER")
    # the driver receives the per-customer tables and the recommendations' pairs: at 10M
    # rows more than Spark's default 1 GB (session 13 ran it with 4 GB); a setting of
    # the caller's own is kept
    submit_args = os.environ.get("PYSPARK_SUBMIT_ARGS")
    if submit_args is None:
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {DRIVER_MEMORY} pyspark-shell"
    try:
        with (
            tempfile.TemporaryDirectory(prefix="cc-cluster-") as scratch,
            standalone(Path(scratch), workers=2, cores=1, memory="1g") as master,
        ):
            log(f"cluster up: {master}")
            os.environ["SPARK_MASTER"] = master  # inherited by the analyze commands
            for n, (path, count) in data.items():
                duck = report.add(_analyze(f"analyze.duckdb.{n}", path, "duckdb", timeout))
                spark = report.add(_analyze(f"analyze.cluster.{n}", path, "spark", timeout))
                duck.details.update(rows=count, customers=n)
                spark.details.update(rows=count, customers=n)
                rows.append((n, count, duck, spark))
    except ClusterError as exc:
        report.notes.append(f"cluster: not measured, {exc}")
        return
    finally:
        if previous is None:
            os.environ.pop("SPARK_MASTER", None)
        else:
            os.environ["SPARK_MASTER"] = previous
        if submit_args is None:
            os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
    report.tables.append(scaling_table(rows, os.getloadavg()))


def scaling_table(
    rows: Sequence[tuple[int, int, Measurement, Measurement]], load: tuple[float, ...]
) -> str:
    """The Markdown scaling table of ``benchmarks/README.md``, with the load at the end."""
    lines = [
        "| rows | customers | DuckDB s | cluster s | cluster / DuckDB | peak MB (DuckDB, driver) |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for n, count, duck, spark in rows:
        ratio = f"{spark.seconds / duck.seconds:.1f}×" if duck.seconds and spark.seconds else "–"
        lines.append(
            f"| {count:,} | {n:,} | {duck.seconds or float('nan'):.1f} | "
            f"{spark.seconds or float('nan'):.1f} | {ratio} | "
            f"{duck.peak_mb or 0:.0f}, {spark.peak_mb or 0:.0f} |"
        )
    lines.append(f"(load average at the end: {', '.join(f'{x:.2f}' for x in load)})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.cluster``: ``python -m benchmarks --only cluster``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cluster",
        description="The same as `python -m benchmarks --only cluster`.",
        epilog="Example: python -m benchmarks.cluster --customers 100000",
    )
    parser.add_argument("--customers", type=int, action="append", help="repeatable")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from benchmarks.__main__ import main as bench

    sizes = [arg for n in args.customers or [] for arg in ("--cluster-customers", str(n))]
    out = ["--out", str(DATA / "results-cluster.json")]
    return bench(["--only", "cluster", "--seed", str(args.seed), *sizes, *out])


if __name__ == "__main__":
    sys.exit(main())
