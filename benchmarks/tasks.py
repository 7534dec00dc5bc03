"""Measured work that runs in the project's venv, one task per fresh subprocess.

``python -m benchmarks.tasks NAME JSON`` runs task ``NAME`` with the keyword arguments in
``JSON`` and prints one line ``@@RESULT {...}`` with at least ``seconds`` (the timed part
only: imports and untimed set-up are excluded). The parent measures peak memory.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import Any

RESULT_PREFIX = "@@RESULT "

Result = dict[str, Any]


def _date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def generate(*, path: str, customers: int, seed: int) -> Result:
    """Simulate ``customers`` BTYD customers and stream them to a Parquet file."""
    from corecustomers.data.simulator import write_transactions

    start = time.perf_counter()
    rows = write_transactions(path, customers, seed=seed)
    return {"seconds": time.perf_counter() - start, "rows": rows}


def features(
    *,
    path: str,
    as_of: str,
    calibration_end: str | None,
    time_unit: str,
    out: str,
    order_id: bool = True,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
) -> Result:
    """``customer_features`` + ``materialize`` on DuckDB over a Parquet file.

    With ``order_id=False`` the input lacks the order column (so ``n_orders`` counts rows).
    ``memory_limit`` and ``temp_directory`` are DuckDB settings (it spills past the limit).
    """
    import ibis
    import pyarrow.parquet as pq

    from corecustomers.data.features import customer_features, materialize

    start = time.perf_counter()
    config = {"memory_limit": memory_limit, "temp_directory": temp_directory}
    con = ibis.duckdb.connect(**{k: v for k, v in config.items() if v is not None})
    columns = ["customer_id", "timestamp", "amount"] + (["order_id"] if order_id else [])
    tx = con.read_parquet(path).select(*columns)
    expr = customer_features(
        tx,
        as_of=dt.date.fromisoformat(as_of),
        calibration_end=_date(calibration_end),
        time_unit=time_unit,  # type: ignore[arg-type]
    )
    table = materialize(expr)
    seconds = time.perf_counter() - start
    pq.write_table(table, out)
    return {
        "seconds": seconds,
        "rows": pq.ParquetFile(path).metadata.num_rows,
        "customers": table.num_rows,
        "columns": table.num_columns,
    }


_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}


def summary_sql(*, path: str, as_of: str, calibration_end: str | None, unit: float) -> str:
    """The same BTYD statistics as ``customer_features``, written by hand in DuckDB SQL.

    Purchase days are days with a row of ``amount >= 0``; returns are netted into the
    spend of their day; ``monetary_value`` is the mean spend of the repeat purchase days.
    """
    end = calibration_end or as_of
    next_day = dt.date.fromisoformat(as_of) + dt.timedelta(days=1)
    holdout = ""
    holdout_select = ""
    if calibration_end is not None:
        holdout = f""",
            count(*) FILTER (WHERE bought > 0 AND day > DATE '{end}') AS n_holdout,
            sum(spend) FILTER (WHERE bought > 0 AND day > DATE '{end}') AS holdout_spend"""
        duration = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(end)).days / unit
        holdout_select = f""",
        n_holdout AS frequency_holdout,
        CASE WHEN n_holdout > 0 THEN holdout_spend / n_holdout ELSE 0 END
            AS monetary_value_holdout,
        {duration}::DOUBLE AS duration_holdout"""
    cal = f"bought > 0 AND day <= DATE '{end}'"
    return f"""
    WITH days AS (
        SELECT customer_id, CAST("timestamp" AS DATE) AS day, sum(amount) AS spend,
               count(*) FILTER (WHERE amount >= 0) AS bought
        FROM read_parquet('{path}')
        WHERE "timestamp" < TIMESTAMP '{next_day}'
        GROUP BY ALL
    ), per AS (
        SELECT customer_id,
            count(*) FILTER (WHERE {cal}) AS n,
            min(day) FILTER (WHERE {cal}) AS first_day,
            max(day) FILTER (WHERE {cal}) AS last_day,
            sum(spend) FILTER (WHERE {cal}) AS spend,
            arg_min(spend, day) FILTER (WHERE {cal}) AS first_spend{holdout}
        FROM days GROUP BY customer_id
    )
    SELECT customer_id,
        n - 1 AS frequency,
        (last_day - first_day) / {unit} AS recency,
        (DATE '{end}' - first_day) / {unit} AS T,
        CASE WHEN n > 1 THEN (spend - first_spend) / (n - 1) ELSE 0 END
            AS monetary_value{holdout_select}
    FROM per WHERE n > 0
    """


def features_sql(
    *, path: str, as_of: str, calibration_end: str | None, time_unit: str, out: str
) -> Result:
    """The hand-written SQL baseline, executed by DuckDB and fetched as Arrow."""
    import duckdb
    import pyarrow.parquet as pq

    sql = summary_sql(
        path=path, as_of=as_of, calibration_end=calibration_end, unit=_UNIT_DAYS[time_unit]
    )
    start = time.perf_counter()
    con = duckdb.connect()
    table = con.sql(sql).to_arrow_table()
    seconds = time.perf_counter() - start
    pq.write_table(table, out)
    return {
        "seconds": seconds,
        "rows": pq.ParquetFile(path).metadata.num_rows,
        "customers": table.num_rows,
        "columns": table.num_columns,
    }


def subset(*, path: str, out: str, customers: int) -> Result:
    """Untimed set-up: the first ``customers`` rows of a feature table by customer id."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["customer_id", "frequency", "recency", "T"])
    table = table.sort_by("customer_id").slice(0, customers)
    pq.write_table(table, out)
    return {"seconds": 0.0, "customers": table.num_rows}


def first_block(*, path: str, out: str) -> Result:
    """Untimed set-up: the first row group (one simulated block of customers) of a file."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read_row_group(0)
    pq.write_table(table, out)
    return {"seconds": 0.0, "rows": table.num_rows}


def fit(*, model: str, path: str) -> Result:
    """Fit BG/NBD or Pareto/NBD on ``frequency, recency, T`` (the fit alone is timed)."""
    import pyarrow.parquet as pq

    if model == "bgnbd":
        from corecustomers.models.beta_geo import BetaGeoModel as Model
    else:
        from corecustomers.models.pareto_nbd import ParetoNBDModel as Model  # type: ignore[assignment]

    data = pq.read_table(path, columns=["frequency", "recency", "T"])
    start = time.perf_counter()
    fitted = Model().fit(data)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "customers": data.num_rows,
        "params": fitted.params_,
        "log_likelihood": fitted.log_likelihood_,
        "converged": fitted.converged_,
    }


def compare(*, ours: str, other: str, columns: list[str], tolerance: float) -> Result:
    """Untimed check: how many customers get the same statistics from both outputs."""
    import numpy as np
    import pyarrow.parquet as pq

    a = pq.read_table(ours).sort_by("customer_id")
    b = pq.read_table(other).sort_by("customer_id")
    if a["customer_id"].to_pylist() != b["customer_id"].to_pylist():
        common = set(a["customer_id"].to_pylist()) & set(b["customer_id"].to_pylist())
        return {"seconds": 0.0, "same_customers": False, "common": len(common)}
    same = np.ones(a.num_rows, dtype=bool)
    worst: dict[str, float] = {}
    for name in columns:
        x = a[name].to_numpy().astype(float)
        y = b[name].to_numpy().astype(float)
        close = np.isclose(x, y, rtol=tolerance, atol=tolerance)
        worst[name] = float(np.max(np.abs(x - y))) if len(x) else 0.0
        same &= close
    return {
        "seconds": 0.0,
        "same_customers": True,
        "customers": a.num_rows,
        "agreement": float(same.mean()) if len(same) else 1.0,
        "max_abs_difference": worst,
    }


TASKS: dict[str, Callable[..., Result]] = {
    "generate": generate,
    "features": features,
    "features_sql": features_sql,
    "subset": subset,
    "first_block": first_block,
    "fit": fit,
    "compare": compare,
}


def main(argv: list[str]) -> int:
    name, arguments = argv[0], json.loads(argv[1])
    result = TASKS[name](**arguments)
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
