"""How two threads' queries share DuckDB: one at a time on one connection, or side by side.

``analyze`` runs its query-only steps (purchase mix, recommendations, behaviour) on a
second thread beside the ranking and the churn risk, and both threads' queries go through
one connection behind a lock (:mod:`corecustomers.service.concurrency`): one query at a
time, each on all of DuckDB's threads. This measures that arrangement against the others
on the same four aggregations of the transactions (the shapes of the recommendations'
pairs, the behaviour and the purchase mix), whole queries fetched to Arrow:

- ``serial, threads=2`` -- the baseline: what the shared lock does now;
- ``serial, threads=1`` -- one query at a time on one thread;
- ``cursors, threads=2`` -- two threads, each with a cursor of the same database
  (``con.cursor()``), running its queries at once;
- ``cursors, threads=1`` -- the same with one DuckDB thread: each query runs on the
  thread that asked for it.

Each arrangement runs ``--rounds`` times, interleaved; the fastest round is kept, and the
table prints wall and CPU seconds (the process' user + system time) and the speed-up
against the baseline.

    python -m benchmarks.duckdb_sharing benchmarks/data/tx_1000000c_seed0.parquet
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import duckdb


def queries(path: Path) -> list[str]:
    """Four aggregations of the file at ``path`` (the generator's columns)."""
    source = f"read_parquet('{path}')"
    return [
        # the recommendations' (customer, product) pairs
        "SELECT customer_id, product, count(*) AS n, sum(amount) AS paid, "
        f"min(timestamp::DATE) AS first_day FROM {source} GROUP BY 1, 2",
        # the behaviour's per-customer days and spends
        "SELECT customer_id, count(DISTINCT timestamp::DATE) AS n_days, sum(amount) AS s, "
        f"stddev(amount) AS sd, max(timestamp) AS last FROM {source} GROUP BY 1",
        # the purchase mix by category and by channel
        f"SELECT customer_id, category, sum(amount) AS s FROM {source} GROUP BY 1, 2",
        f"SELECT customer_id, channel, sum(amount) AS s, count(*) AS n FROM {source} GROUP BY 1, 2",
    ]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def arrangement(sql: list[str], *, threads: int, cursors: bool) -> tuple[float, float]:
    """Wall and CPU seconds of ``sql`` run one after another on one connection, or split
    between two threads with a cursor each, on a database with ``threads`` threads."""
    con = duckdb.connect(config={"threads": threads})
    wall, cpu = time.perf_counter(), _cpu()
    if cursors:

        def work(cursor: duckdb.DuckDBPyConnection, mine: list[str]) -> None:
            for statement in mine:
                cursor.sql(statement).fetch_arrow_table()

        workers = [threading.Thread(target=work, args=(con.cursor(), sql[i::2])) for i in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    else:
        for statement in sql:
            con.sql(statement).fetch_arrow_table()
    result = time.perf_counter() - wall, _cpu() - cpu
    con.close()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.duckdb_sharing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", type=Path, help="a Parquet file of the generator")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    sql = queries(args.source)
    cases: dict[str, Callable[[], tuple[float, float]]] = {
        f"{kind}, threads={n}": partial(arrangement, sql, threads=n, cursors=kind == "cursors")
        for kind in ("serial", "cursors")
        for n in (2, 1)
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, case in cases.items():
            wall, cpu = case()
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    base_wall, base_cpu = best["serial, threads=2"]
    print(f"{'arrangement':<22} {'wall s':>7} {'CPU s':>7} {'speed-up':>9} {'CPU ratio':>9}")
    for name, (wall, cpu) in best.items():
        print(f"{name:<22} {wall:7.2f} {cpu:7.2f} {base_wall / wall:8.2f}x {cpu / base_cpu:9.2f}")


if __name__ == "__main__":
    main()
