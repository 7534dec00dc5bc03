"""``accepted_as_read``: a typed Parquet source whose rows need no parse is read as it is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.data.connect import keep_rows
from corecustomers.data.mapping import map_columns
from corecustomers.data.readers import read_source
from corecustomers.data.validation import accepted_as_read, count_rows, validate

TODAY = dt.date(2024, 6, 30)


def _columns() -> dict[str, Any]:
    return {
        "customer_id": ["C1", "C2", "C1", "C4", "C3"],
        "order_id": ["O1", "O2", "O3", None, "O5"],
        "timestamp": [dt.datetime(2024, 1, d, 9, 30) for d in (1, 2, 3, 4, 5)],
        "amount": [10.5, -2.0, 7.25, 3.0, 0.0],
        "quantity": [1.0, None, 2.0, 1.0, 3.0],
        "product": ["tea", "cake", None, "tea", "soup"],
        "channel": ["app", "store", "app", "app", "online"],
    }


def _write(
    path: Path, columns: dict[str, Any], types: dict[str, pa.DataType] | None = None
) -> Path:
    types = {"timestamp": pa.timestamp("us"), **(types or {})}
    pq.write_table(pa.table({k: pa.array(v, type=types.get(k)) for k, v in columns.items()}), path)
    return path


def _as_read(path: Path) -> tuple[ibis.Table | None, ibis.Table]:
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=path.parent)
    mapping = map_columns(raw.columns, {"product": "product", "channel": "channel"})
    validated = validate(raw, mapping, today=TODAY)
    return accepted_as_read(validated, count_rows(validated)), validated.accepted


def test_a_clean_typed_parquet_file_gives_the_rows_a_kept_copy_holds(tmp_path: Path) -> None:
    as_read, accepted = _as_read(_write(tmp_path / "tx.parquet", _columns()))
    assert as_read is not None
    kept = keep_rows(accepted, tmp_path, name="accepted")
    assert as_read.schema() == kept.schema()  # names, order and types
    assert as_read.columns == accepted.columns
    got = as_read.order_by("_source_row").to_pyarrow()
    assert got.equals(kept.order_by("_source_row").to_pyarrow())
    assert got.column("_source_row").to_pylist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("customer_id", " C9"),  # trimmed by the parse
        ("customer_id", "C9\t"),
        ("order_id", "O9 "),
        ("product", ""),  # empty: NULL once parsed
        ("channel", "\napp"),
    ],
)
def test_a_value_the_parse_trims_keeps_the_copy(tmp_path: Path, column: str, value: str) -> None:
    columns = _columns()
    columns[column] = [value, *columns[column][1:]]
    as_read, _ = _as_read(_write(tmp_path / "tx.parquet", columns))
    assert as_read is None


@pytest.mark.parametrize(
    "last",
    [
        {"amount": float("nan")},  # non_numeric_amount
        {"timestamp": dt.datetime(2030, 1, 1)},  # future_date
        {"customer_id": "NULL"},  # missing_customer_id
        {"order_id": "O1", "product": "tea"},  # duplicate_order_id: the first row again
    ],
)
def test_a_quarantined_row_keeps_the_copy(tmp_path: Path, last: dict[str, Any]) -> None:
    columns = _columns()
    for column, value in last.items():
        columns[column] = [*columns[column][:-1], value]
    path = _write(tmp_path / "tx.parquet", columns)
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    mapping = map_columns(raw.columns, {"product": "product", "channel": "channel"})
    validated = validate(raw, mapping, today=TODAY)
    counts = count_rows(validated)
    assert counts.rows_quarantined == 1
    assert accepted_as_read(validated, counts) is None


@pytest.mark.parametrize(
    "types",
    [
        {"timestamp": pa.timestamp("ns")},  # the parse rounds to microseconds
        {"timestamp": pa.timestamp("us", tz="UTC")},
        {"amount": pa.float32()},
        {"quantity": pa.int64()},
    ],
)
def test_other_types_keep_the_copy(tmp_path: Path, types: dict[str, pa.DataType]) -> None:
    columns = _columns()
    if "quantity" in types:
        columns["quantity"] = [1, None, 2, 1, 3]
    as_read, _ = _as_read(_write(tmp_path / "tx.parquet", columns, types))
    assert as_read is None


def test_text_files_keep_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,timestamp,amount\nC1,2024-01-01,10\n", encoding="utf-8")
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    validated = validate(raw, map_columns(raw.columns), today=TODAY)
    assert accepted_as_read(validated, count_rows(validated)) is None
