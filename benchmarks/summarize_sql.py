"""The validated baseline for ``corecustomers summarize``: the same job in hand-written SQL.

``python -m benchmarks.summarize_sql SOURCE.parquet OUT.parquet --as-of DATE`` does, with
DuckDB alone, what ``corecustomers summarize SOURCE --out OUT`` does on a typed Parquet
file with the generator's columns:

1. **The bad rows** (one query): every row's reason as in
   :mod:`corecustomers.data.validation` (a total line, a missing or placeholder customer,
   a missing date or amount, a date in the future or before 1900, a later copy of an
   order id and product), computed on the few columns they need; the bad rows (few) are
   kept in a temporary table with their values and written to ``OUT_STEM.quarantine.csv``
   (row number, reason, values).
2. **The counts**: rows read (the Parquet footer), quarantined by reason (the small table).
3. **The per-customer columns** (one query): the 13 columns of ``summarize``'s output
   (``corecustomers.data.features.FEATURE_COLUMNS``) over every row but the bad ones,
   written to ``OUT``.

No table of all rows is ever made. The as-of date is given (a person writing this SQL
knows it); ``summarize`` finds it (the last valid date). Whole process, as a user runs it:
``python -m`` start, ``import duckdb``, the three steps, exit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import duckdb

# The lists of corecustomers.data.validation, spelled out: the baseline imports nothing of it.
SUMMARY_LABELS = (
    "total",
    "totals",
    "grand total",
    "subtotal",
    "sub total",
    "sum",
    "合计",
    "总计",
    "小计",
    "汇总",
    "总和",
    "共计",
)
COLONS = ("", ":", "：", " :", " ：")
PLACEHOLDER_IDS = (
    "null",
    "(null)",
    "<null>",
    "none",
    "nan",
    "n/a",
    "na",
    "#n/a",
    "undefined",
    "(blank)",
    "-",
    "--",
    "?",
    "—",
    "－",
    "unknown",
    "anonymous",
    "guest",
    "walk-in",
    "无",
    "空",
    "未知",
    "散客",
    "匿名",
    "游客",
    "非会员",
)
UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
SPACES = " \t\n\r"


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def bad_rows_sql(path: str, today: dt.date) -> str:
    """The bad rows with their reason and values (the few rows to quarantine)."""
    labels = [f"{label}{colon}" for label in SUMMARY_LABELS for colon in COLONS]
    tomorrow = today + dt.timedelta(days=1)
    return f"""
    WITH src AS (
        SELECT file_row_number + 1 AS source_row, * EXCLUDE (file_row_number)
        FROM read_parquet('{path}', file_row_number = true)
    ), parsed AS (
        SELECT source_row,
            nullif(trim(order_id, '{SPACES}'), '') AS o,
            nullif(trim(product, '{SPACES}'), '') AS p,
            CASE
                WHEN array_contains({_list(labels)}, lower(trim(customer_id, '{SPACES}')))
                    THEN 'summary_row'
                WHEN nullif(trim(customer_id, '{SPACES}'), '') IS NULL
                    OR array_contains({_list(PLACEHOLDER_IDS)},
                                      lower(trim(customer_id, '{SPACES}')))
                    THEN 'missing_customer_id'
                WHEN "timestamp" IS NULL THEN 'unparseable_date'
                WHEN amount IS NULL OR isnan(amount) OR isinf(amount)
                    THEN 'non_numeric_amount'
                WHEN "timestamp" >= TIMESTAMP '{tomorrow}' THEN 'future_date'
                WHEN "timestamp" < TIMESTAMP '1900-01-01' THEN 'date_before_1900'
            END AS basic
        FROM src
    ), reasons AS (
        SELECT source_row,
            coalesce(basic, CASE WHEN o IS NOT NULL AND row_number() OVER (
                PARTITION BY o, p, CASE WHEN basic IS NULL THEN 0 ELSE source_row END
                ORDER BY source_row) > 1 THEN 'duplicate_order_id' END) AS reason
        FROM parsed
        QUALIFY reason IS NOT NULL
    )
    SELECT source_row, reason,
        customer_id, order_id, CAST("timestamp" AS VARCHAR) AS "timestamp",
        CAST(amount AS VARCHAR) AS amount, CAST(quantity AS VARCHAR) AS quantity,
        product, category, channel, store
    FROM src JOIN reasons USING (source_row)
    ORDER BY source_row
    """


def features_sql(path: str, as_of: dt.date, unit: float) -> str:
    """The 13 per-customer columns of ``summarize`` over the rows that are not bad."""
    next_day = as_of + dt.timedelta(days=1)
    return f"""
    WITH tx AS (
        SELECT nullif(trim(customer_id, '{SPACES}'), '') AS customer_id,
            CAST("timestamp" AS DATE) AS day, amount,
            nullif(trim(order_id, '{SPACES}'), '') AS order_id
        FROM read_parquet('{path}', file_row_number = true)
        WHERE file_row_number + 1 NOT IN (SELECT source_row FROM bad)
            AND "timestamp" < TIMESTAMP '{next_day}'
    ), lines AS (
        SELECT customer_id, day, order_id, sum(amount) AS spend,
            sum(-amount) FILTER (WHERE amount < 0) AS returns,
            count(*) FILTER (WHERE amount >= 0) AS bought
        FROM tx GROUP BY ALL
    ), days AS (
        SELECT customer_id, day, sum(spend) AS spend, sum(returns) AS returns,
            sum(bought) AS bought,
            sum(CASE WHEN order_id IS NULL THEN bought WHEN bought > 0 THEN 1 ELSE 0 END)
                AS orders
        FROM lines GROUP BY ALL
    ), per AS (
        SELECT customer_id,
            min(day) FILTER (WHERE bought > 0) AS first_day,
            max(day) FILTER (WHERE bought > 0) AS last_day,
            count(*) FILTER (WHERE bought > 0) AS n,
            sum(spend) FILTER (WHERE bought > 0) AS purchase_spend,
            arg_min(spend, day) FILTER (WHERE bought > 0) AS first_spend,
            sum(spend) AS total_spend, sum(returns) AS returns_amount,
            sum(orders) FILTER (WHERE bought > 0) AS n_orders
        FROM days GROUP BY customer_id
    )
    SELECT customer_id,
        n - 1 AS frequency,
        (last_day - first_day) / {unit} AS recency,
        (DATE '{as_of}' - first_day) / {unit} AS "T",
        CASE WHEN n > 1 THEN (purchase_spend - first_spend) / (n - 1) ELSE 0 END
            AS monetary_value,
        first_day AS first_purchase, last_day AS last_purchase,
        coalesce(total_spend, 0) AS total_spend,
        coalesce(returns_amount, 0) AS returns_amount,
        CAST(coalesce(n_orders, 0) AS BIGINT) AS n_orders, n AS n_periods,
        DATE '{as_of}' - first_day AS tenure_days,
        DATE '{as_of}' - last_day AS days_since_last_purchase
    FROM per WHERE n > 0
    """


def run(path: str, out: str, *, as_of: dt.date, today: dt.date, time_unit: str) -> dict[str, int]:
    """The three steps; returns the counts."""
    con = duckdb.connect()
    quarantine = out.rsplit(".", 1)[0] + ".quarantine.csv"
    con.execute(f"CREATE TEMP TABLE bad AS {bad_rows_sql(path, today)}")
    con.execute(f"COPY bad TO '{quarantine}' (HEADER)")
    read = con.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    reasons = dict(con.sql("SELECT reason, count(*) FROM bad GROUP BY ALL").fetchall())
    con.execute(
        f"COPY ({features_sql(path, as_of, UNIT_DAYS[time_unit])}) TO '{out}' (FORMAT parquet)"
    )
    rows = int(read[0]) if read else 0
    bad = sum(reasons.values())
    return {"rows_read": rows, "rows_accepted": rows - bad, "rows_quarantined": bad, **reasons}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.summarize_sql")
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--time-unit", default="week", choices=sorted(UNIT_DAYS))
    args = parser.parse_args(argv)
    counts = run(
        args.source, args.out, as_of=args.as_of, today=args.today, time_unit=args.time_unit
    )
    print(counts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
