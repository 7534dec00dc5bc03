"""The same parsing and validation on DuckDB, Spark and PostgreSQL give the same rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.data.mapping import map_columns
from corecustomers.data.readers import ROW_COLUMN, RawSource
from corecustomers.data.validation import count_rows, validate

TODAY = dt.date(2024, 6, 30)
RAW = pa.table(
    {
        "会员号": ["A", "A", None, "B", "B", "C", "C", "D", "E", "F", "F"],
        "下单时间": [
            "2024-01-05 10:00:00",
            "2024/1/6",
            "2024-01-05",
            "2024年2月29日",
            "2023-02-29",
            "20240301",
            "2024-03-01T23:30:00-02:00",
            "2099-01-01",
            "1899-06-01",
            "2024-03-05",
            "2024-03-06",
        ],
        "实付金额": ["10", "¥1,000.50", "3", "(2.5)", "4", "abc", "7", "1", "1", "5", "6"],
        "订单号": ["O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8", "O9", "O10", "O10"],
        ROW_COLUMN: list(range(2, 13)),
    }
)
EXPECTED_REASONS = {
    4: "missing_customer_id",
    6: "unparseable_date",
    7: "non_numeric_amount",
    9: "future_date",
    10: "date_before_1900",
    12: "duplicate_order_id",
}


def _raw(table: Any) -> RawSource:
    return RawSource(
        table=table,
        name="raw",
        kind="csv",
        columns=tuple(c for c in RAW.column_names if c != ROW_COLUMN),
    )


def _run(con: Any, table: Any) -> tuple[list[dict[str, Any]], dict[int, str], Any]:
    raw = _raw(table)
    v = validate(raw, map_columns(raw.columns), today=TODAY, business_offset_minutes=0)
    accepted = con.to_pyarrow(v.accepted.order_by(ROW_COLUMN)).to_pylist()
    quarantined = {r[ROW_COLUMN]: r["reason"] for r in con.to_pyarrow(v.quarantine).to_pylist()}
    return accepted, quarantined, v


def _check(con: Any, table: Any) -> None:
    accepted, quarantined, v = _run(con, table)
    assert quarantined == EXPECTED_REASONS
    assert [r[ROW_COLUMN] for r in accepted] == [2, 3, 5, 8, 11]
    got = {
        r[ROW_COLUMN]: (r["customer_id"], r["timestamp"], r["amount"], r["order_id"])
        for r in accepted
    }
    assert got == {
        2: ("A", dt.datetime(2024, 1, 5, 10), 10.0, "O1"),
        3: ("A", dt.datetime(2024, 1, 6), 1000.5, "O2"),
        5: ("B", dt.datetime(2024, 2, 29), -2.5, "O4"),
        8: ("C", dt.datetime(2024, 3, 2, 1, 30), 7.0, "O7"),
        11: ("F", dt.datetime(2024, 3, 5), 5.0, "O10"),
    }
    counts = count_rows(v)
    assert (counts.rows_read, counts.rows_accepted, counts.rows_quarantined) == (11, 5, 6)


def test_duckdb(duckdb_con: Any) -> None:
    _check(duckdb_con, duckdb_con.create_table("raw_v", RAW, temp=True, overwrite=True))


@pytest.mark.spark
def test_spark(spark_con: Any, tmp_path: Path) -> None:
    # staged as Parquet, as the readers do for Spark (an ibis memtable would go through
    # pandas, which turns a missing string into the text 'NaN')
    pq.write_table(RAW, tmp_path / "raw.parquet")
    _check(spark_con, spark_con.read_parquet(str(tmp_path / "raw.parquet")))


@pytest.mark.postgres
def test_postgres(postgres_con: Any) -> None:
    _check(postgres_con, postgres_con.create_table("raw_v", RAW, temp=True, overwrite=True))
