"""The scaling table: ``analyze`` on DuckDB and on a local Spark standalone cluster.

``python -m benchmarks.cluster`` generates the transactions for 100k and 1M customers
(about 1M and 10M rows, :func:`corecustomers.data.simulator.write_transactions`, reused
when present), starts a master and two workers (one core and 1 GB each) on localhost
(:mod:`benchmarks.spark_cluster`) and times the whole command
``corecustomers analyze FILE --out DIR --engine duckdb|spark`` from the outside, DuckDB and
the cluster in turn, printing a Markdown table with the ratio of each to DuckDB.

Examples::

    python -m benchmarks.cluster                       # 100k and 1M customers
    python -m benchmarks.cluster --customers 100000    # one size only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.runner import DATA, Measurement, log, project_task, run, run_command
from benchmarks.spark_cluster import standalone


def _dataset(customers: int, seed: int) -> tuple[Path, int]:
    path = DATA / f"tx_{customers}c_seed{seed}.parquet"
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        DATA.mkdir(parents=True, exist_ok=True)
        m = run(
            f"generate.{customers}",
            project_task("generate", path=str(path), customers=customers, seed=seed),
            repeat=False,
        )
        if not m.ok:
            raise SystemExit(f"could not generate the data: {m.error}")
        meta.write_text(json.dumps({"rows": m.details["rows"], "customers": customers}))
    return path, int(json.loads(meta.read_text())["rows"])


def _analyze(name: str, path: Path, engine: str, timeout: float) -> Measurement:
    cli = Path(sys.executable).parent / "corecustomers"
    out = DATA / f"cluster-{name}"
    return run_command(
        name,
        [str(cli), "analyze", str(path), "--out", str(out), "--engine", engine, "--quiet"],
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cluster",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Example: python -m benchmarks.cluster --customers 100000",
    )
    parser.add_argument("--customers", type=int, action="append", help="repeatable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    args = parser.parse_args(argv)
    sizes = args.customers or [100_000, 1_000_000]
    data = {n: _dataset(n, args.seed) for n in sizes}
    rows: list[tuple[int, int, Measurement, Measurement]] = []
    with (
        tempfile.TemporaryDirectory(prefix="cc-cluster-") as scratch,
        standalone(Path(scratch), workers=2, cores=1, memory="1g") as master,
    ):
        log(f"cluster up: {master}")
        os.environ["SPARK_MASTER"] = master  # inherited by the analyze commands
        for n, (path, count) in data.items():
            duck = _analyze(f"analyze.duckdb.{n}", path, "duckdb", args.timeout)
            spark = _analyze(f"analyze.cluster.{n}", path, "spark", args.timeout)
            rows.append((n, count, duck, spark))
    print(f"load average at the end: {os.getloadavg()}")
    print(
        "| rows | customers | DuckDB s | cluster s | cluster / DuckDB | peak MB (DuckDB, driver) |"
    )
    print("|---:|---:|---:|---:|---:|---|")
    for n, count, duck, spark in rows:
        ratio = f"{spark.seconds / duck.seconds:.1f}×" if duck.seconds and spark.seconds else "–"
        print(
            f"| {count:,} | {n:,} | {duck.seconds or float('nan'):.1f} | "
            f"{spark.seconds or float('nan'):.1f} | {ratio} | "
            f"{duck.peak_mb or 0:.0f}, {spark.peak_mb or 0:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
