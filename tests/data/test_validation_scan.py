"""The first aggregate of ``Validated.keep_bad_rows`` changes no answer, only the work.

Each source is validated twice: with the aggregate (the probe of the first rows made to
pass with a one-row probe, so the aggregate runs even on these small files) and with it
switched off (the duplicate window, the trim query and the distinct count, as before).
The counts, the bad rows, the accepted rows, the as-read rows and whether the accepted
order ids are distinct must be the same, and each case must take the path it names.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from corecustomers.data import validation
from corecustomers.data.features import orders_are_rows
from corecustomers.data.mapping import map_columns
from corecustomers.data.readers import ROW_COLUMN, read_source
from corecustomers.data.validation import (
    Validated,
    accepted_as_read,
    accepted_orders_distinct,
    count_rows,
    validate,
)

TODAY = dt.date(2024, 6, 30)


def _base() -> dict[str, list[Any]]:
    return {
        "customer_id": ["C1", "C2", "C1", "C3", "C2", "C4"],
        "order_id": ["O1", "O2", "O3", "O4", "O5", None],
        "timestamp": [dt.datetime(2024, 1, d, 9, 30) for d in (1, 2, 3, 4, 5, 6)],
        "amount": [10.5, -2.0, 7.25, 3.0, 0.0, 4.0],
        "product": ["tea", "cake", "tea", "soup", "tea", "cake"],
    }


def _with(**changes: tuple[int, Any]) -> dict[str, list[Any]]:
    columns = _base()
    for column, (i, value) in changes.items():
        columns[column][i] = value
    return columns


# name: (columns, whether the product is mapped, the expected path, as-read expected)
CASES: dict[str, tuple[dict[str, list[Any]], bool, str, bool]] = {
    "clean": (_base(), True, "scan", True),
    "a product to trim": (_with(product=(4, "tea ")), True, "scan", False),
    "an empty customer id": (_with(customer_id=(2, "")), True, "scan", False),
    "a line of an earlier order": (
        _with(order_id=(4, "O1"), product=(4, "cake")),
        True,
        "window",
        True,
    ),
    "an order exported twice": (
        _with(order_id=(4, "O1"), product=(4, "tea")),
        True,
        "window",
        False,
    ),
    "a repeated id, no product": (_with(order_id=(4, "O1")), False, "window", False),
    "a repeated id on a bad row": (
        _with(order_id=(4, "O1"), customer_id=(4, "N/A")),
        True,
        "scan",
        False,
    ),
    "every row bad": (
        {**_base(), "customer_id": ["NULL"] * 6},
        True,
        "scan",
        False,
    ),
}


def _validated(path: Path) -> Validated:
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=path.parent)
    return validate(raw, map_columns(raw.columns), today=TODAY)


def _answers(validated: Validated) -> dict[str, Any]:
    counts = count_rows(validated)
    bad = validated.keep_bad_rows().order_by(ROW_COLUMN).to_pyarrow().to_pylist()
    accepted = validated.accepted.order_by(ROW_COLUMN).to_pyarrow()
    as_read = accepted_as_read(validated, counts)
    distinct = accepted_orders_distinct(validated, counts)
    return {
        "counts": counts,
        "bad": bad,
        "accepted": accepted,
        "as_read": None if as_read is None else as_read.order_by(ROW_COLUMN).to_pyarrow(),
        # what prepare() decides: known, or counted
        "distinct": distinct if distinct is not None else orders_are_rows(validated.accepted),
        "quarantine": validated.quarantine.order_by(ROW_COLUMN).to_pyarrow(),
    }


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_first_aggregate_gives_the_answers_of_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, kind: str
) -> None:
    columns, product, path_taken, readable = CASES[case]
    table = pa.table(
        {
            k: pa.array(v, type=pa.timestamp("us") if k == "timestamp" else None)
            for k, v in columns.items()
            if product or k != "product"
        }
    )
    path = tmp_path / f"tx.{kind}"
    if kind == "parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
    monkeypatch.setattr(validation, "_PROBE_ROWS", 1)
    fast = _validated(path)
    got = _answers(fast)
    scan = fast._scan()
    assert scan is not None  # the aggregate ran
    assert ("scan" if scan.no_duplicates else "window") == path_taken
    with monkeypatch.context() as m:
        m.setattr(Validated, "_run_scan", lambda self: None)
        slow = _validated(path)
        want = _answers(slow)
        assert slow._scan() is None
    assert got == want
    assert (got["as_read"] is not None) == (readable and kind == "parquet")


def test_lines_of_one_order_in_the_first_rows_skip_the_aggregate(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text(
        "customer_id,date,amount,order_id,product\n"
        "C1,2024-01-05,10,O1,tea\n"
        "C1,2024-01-05,3,O1,cake\n"  # a second line of the order
        "C2,2024-01-06,4,O2,tea\n",
        encoding="utf-8",
    )
    v = _validated(path)
    counts = count_rows(v)
    assert v._scan() is None  # the probe saw the repeat: the window ran, as before
    assert counts.rows_accepted == 3
    assert accepted_orders_distinct(v, counts) is None
    assert not orders_are_rows(v.accepted)


def test_no_query_answers_whether_order_ids_are_distinct_before_the_count(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tx.parquet"
    columns = _base()
    pq.write_table(
        pa.table({**columns, "timestamp": pa.array(columns["timestamp"], pa.timestamp("us"))}),
        path,
    )
    v = _validated(path)
    v_counts = validation.ValidationCounts(0, 0, 0, {}, None, None)
    assert accepted_orders_distinct(v, v_counts) is None  # not scanned yet: count them
    counts = count_rows(v)
    assert accepted_orders_distinct(v, counts) is True
