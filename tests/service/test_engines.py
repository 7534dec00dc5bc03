"""The whole summarize path on every engine: DuckDB file, Spark engine, PostgreSQL table."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from corecustomers.config import Settings
from corecustomers.service import summarize

FIXTURES = Path(__file__).parents[1] / "fixtures"
CDNOW = FIXTURES / "CDNOW_sample.txt"
COLUMNS = {"customer_id": "1", "timestamp": "3", "amount": "5"}
TODAY = dt.date(2026, 1, 1)


def _sorted(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    return sorted(rows, key=lambda r: r["customer_id"])


def _close(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], float):
                assert x[key] == pytest.approx(y[key], rel=1e-12, abs=1e-9), key
            else:
                assert x[key] == y[key], key


@pytest.fixture(scope="module")
def duckdb_result(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("duck") / "f.parquet"
    settings = Settings(columns=COLUMNS, calibration_end=dt.date(1997, 9, 30))
    table, _ = summarize(str(CDNOW), out, settings, today=TODAY)
    assert table.num_rows == 2357
    return _sorted(table)


@pytest.mark.spark
def test_spark_engine_matches_duckdb(
    duckdb_result: list[dict[str, Any]], spark_session: Any, tmp_path: Path
) -> None:
    settings = Settings(columns=COLUMNS, calibration_end=dt.date(1997, 9, 30), engine="spark")
    table, prepared = summarize(str(CDNOW), tmp_path / "f.parquet", settings, today=TODAY)
    assert prepared.raw.table._find_backend().name == "pyspark"
    _close(_sorted(table), duckdb_result)


@pytest.mark.postgres
def test_postgres_table_matches_duckdb(
    duckdb_result: list[dict[str, Any]], postgres_con: Any, tmp_path: Path
) -> None:
    rows = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    data = pa.table(
        {
            "customer": [r[0] for r in rows],
            "sample_id": [int(r[1]) for r in rows],
            "order_date": [int(r[2]) for r in rows],  # yyyymmdd stored as an integer
            "cds": [int(r[3]) for r in rows],
            "dollars": [float(r[4]) for r in rows],
        }
    )
    # a table of this run's own, dropped at the end (runs may share the database)
    name = f"cc_engines_cdnow_{uuid.uuid4().hex[:12]}"
    postgres_con.create_table(name, data)
    settings = Settings(
        columns={"customer_id": "customer", "timestamp": "order_date", "amount": "dollars"},
        calibration_end=dt.date(1997, 9, 30),
        source_url="postgresql://postgres@127.0.0.1:5432/test",
    )
    try:
        table, prepared = summarize(name, tmp_path / "f.csv", settings, today=TODAY)
        assert prepared.raw.table._find_backend().name == "postgres"
        _close(_sorted(table), duckdb_result)
        query, _ = summarize(
            f"SELECT * FROM {name} WHERE order_date < 19970401",
            tmp_path / "q.csv",
            Settings(
                columns=settings.columns,
                source_url=settings.source_url,
                as_of=dt.date(1997, 12, 31),
            ),
            today=TODAY,
        )
        assert query.num_rows == 2357  # every customer first bought in Q1 1997
    finally:
        postgres_con.drop_table(name, force=True)
