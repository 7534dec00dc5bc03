"""Validation loses nothing: every input row is accepted or quarantined with its reason."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pytest

from corecustomers.data.features import orders_are_rows
from corecustomers.data.mapping import map_columns
from corecustomers.data.quarantine import write_quarantine
from corecustomers.data.readers import ROW_COLUMN, read_source
from corecustomers.data.validation import (
    REASONS,
    count_rows,
    exact_duplicate_rows,
    validate,
)

TODAY = dt.date(2024, 6, 30)

# (customer, date, amount, order) and the expected reason (None = accepted)
ROWS = [
    ("C1", "2024-01-05", "10.00", "O1", None),
    ("", "2024-01-05", "10.00", "O2", "missing_customer_id"),
    ("C2", "not a date", "10.00", "O3", "unparseable_date"),
    ("C2", "", "10.00", "O4", "unparseable_date"),
    ("C3", "2024-01-05", "ten", "O5", "non_numeric_amount"),
    ("C3", "2024-07-01", "10.00", "O6", "future_date"),
    ("C4", "1899-12-31", "10.00", "O7", "date_before_1900"),
    ("C1", "2024-01-05", "10.00", "O1", "duplicate_order_id"),
    ("C5", "2024-02-01", "-4.50", "O8", None),  # a return is kept
    ("C5", "2024-02-01", "¥1,234.50", "", None),  # no order id: kept
    ("C5", "2024-02-01", "¥1,234.50", "", None),  # exact copy without order id: kept, warned
    ("", "bad", "bad", "O1", "missing_customer_id"),  # first reason wins
    ("C6", "2024-06-30 23:59:59", "1", "O9", None),  # today is not the future
]


def _source(tmp_path: Path, rows: list[tuple[str, ...]] = ROWS) -> Path:
    path = tmp_path / "tx.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer", "date", "amount", "order_id"])
        for r in rows:
            w.writerow(r[:4])
    return path


def _validated(tmp_path: Path, rows: list[tuple[str, ...]] = ROWS):  # type: ignore[no-untyped-def]
    raw = read_source(str(_source(tmp_path, rows)), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    return validate(raw, map_columns(raw.columns), today=TODAY)


def test_every_row_accounted_for_with_its_reason(tmp_path: Path) -> None:
    v = _validated(tmp_path)
    counts = count_rows(v)
    assert counts.rows_read == len(ROWS)
    assert counts.rows_accepted + counts.rows_quarantined == len(ROWS)
    accepted_lines = sorted(v.accepted.to_pyarrow().column(ROW_COLUMN).to_pylist())
    quarantined = {r[ROW_COLUMN]: r["reason"] for r in v.quarantine.to_pyarrow().to_pylist()}
    # CSV line numbers: the header is line 1
    expected = {i + 2: r[4] for i, r in enumerate(ROWS)}
    assert accepted_lines == [line for line, reason in expected.items() if reason is None]
    assert quarantined == {line: reason for line, reason in expected.items() if reason is not None}
    assert set(accepted_lines).isdisjoint(quarantined)
    assert set(counts.reasons) == {r[4] for r in ROWS if r[4]}


def test_each_reason_is_reported_with_row_column_and_raw_values(tmp_path: Path) -> None:
    v = _validated(tmp_path)
    sample = write_quarantine(v, tmp_path / "quarantine.csv")
    text = (tmp_path / "quarantine.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == sum(1 for r in ROWS if r[4])
    assert set(rows[0]) == {
        "source_row",
        "reason",
        "column",
        "message",
        "customer",
        "date",
        "amount",
        "order_id",
    }
    by_reason = {r["reason"]: r for r in rows}
    assert set(by_reason) <= set(REASONS)
    assert by_reason["non_numeric_amount"]["column"] == "amount"
    assert "'ten'" in by_reason["non_numeric_amount"]["message"]
    assert by_reason["unparseable_date"]["date"] in ("not a date", "")
    assert by_reason["duplicate_order_id"]["source_row"] == "9"
    assert sample and sample[0]["raw"]["customer"] in ("", None)


def test_duplicate_orders_keep_the_first_copy_so_appending_never_double_counts(
    tmp_path: Path,
) -> None:
    once = [r for r in ROWS if r[4] is None]
    twice = once + once  # the same export appended again
    v = _validated(tmp_path, twice)
    acc = v.accepted.to_pyarrow()
    # rows with an order id appear once; rows without one are kept (they may be real repeats)
    with_order = [r for r in once if r[3]]
    without = [r for r in once if not r[3]]
    assert acc.num_rows == len(with_order) + 2 * len(without)
    assert sorted(
        acc.filter(acc.column("order_id").is_valid()).column("order_id").to_pylist()
    ) == sorted(r[3] for r in with_order)


def test_without_a_product_the_accepted_order_ids_are_distinct_by_construction(
    tmp_path: Path,
) -> None:
    v = _validated(tmp_path, ROWS + ROWS)  # repeated order ids, quarantined
    assert v.orders_distinct
    assert orders_are_rows(v.accepted)  # what the property spares counting


def test_with_a_product_the_order_ids_may_repeat_and_are_not_claimed_distinct(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lines.csv"
    path.write_text(
        "customer,date,amount,order_id,product\n"
        "C1,2024-01-05,10,O1,tea\n"
        "C1,2024-01-05,3,O1,cake\n"  # a second line of the order: kept
        "C1,2024-01-05,3,O1,cake\n",  # a repeated line: quarantined
        encoding="utf-8",
    )
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    v = validate(raw, map_columns(raw.columns), today=TODAY)
    assert not v.orders_distinct
    assert v.accepted.count().to_pyarrow().as_py() == 2
    assert count_rows(v).reasons == {"duplicate_order_id": 1}
    assert not orders_are_rows(v.accepted)


def test_a_bad_first_copy_does_not_hide_a_good_second(tmp_path: Path) -> None:
    rows = [("C1", "bad", "1", "O1", "unparseable_date"), ("C1", "2024-01-01", "1", "O1", None)]
    v = _validated(tmp_path, rows)
    assert v.accepted.to_pyarrow().column(ROW_COLUMN).to_pylist() == [3]


def test_exact_duplicates_without_order_id_are_counted(tmp_path: Path) -> None:
    rows = [
        (c, d, a, "", None)
        for c, d, a, *_ in [
            ("A", "2024-01-01", "5"),
            ("A", "2024-01-01", "5"),
            ("A", "2024-01-01", "5"),
            ("B", "2024-01-01", "5"),
        ]
    ]
    path = tmp_path / "t.csv"
    path.write_text("customer,date,amount\n" + "".join(f"{c},{d},{a}\n" for c, d, a, *_ in rows))
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    v = validate(raw, map_columns(raw.columns), today=TODAY)
    assert count_rows(v).rows_accepted == 4
    assert exact_duplicate_rows(v.accepted) == 2


@pytest.mark.parametrize("offset", [0, 480])
def test_future_is_judged_in_the_business_time_zone(tmp_path: Path, offset: int) -> None:
    rows = [("A", "2024-06-30T20:00:00+00:00", "1", "O1", None)]
    raw = read_source(str(_source(tmp_path, rows)), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    v = validate(raw, map_columns(raw.columns), today=TODAY, business_offset_minutes=offset)
    # at UTC+8 that instant is already 1 July, after "today" (30 June local)
    assert count_rows(v).rows_quarantined == (1 if offset else 0)


def test_the_quarantine_file_is_replaced_whole_and_a_killed_writers_copy_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bad rows are customer data: a writer killed mid-way leaves a temporary copy
    that the next writer removes; a writer that fails keeps the file saved before."""
    import corecustomers.data.quarantine as quarantine

    out = tmp_path / "out"
    out.mkdir()
    target = out / "quarantine.csv"
    left = out / ".quarantine.csv.k1ll3d.tmp"  # as a killed writer leaves it
    left.write_text("source_row,reason\n1,half", encoding="utf-8")
    v = _validated(tmp_path)
    write_quarantine(v, target)
    assert sorted(p.name for p in out.iterdir()) == [target.name]
    before = target.read_bytes()

    rows = quarantine.iter_quarantine

    def broken(validated: Any) -> Iterator[Any]:
        yield from rows(validated)
        raise OSError("disk full")

    monkeypatch.setattr(quarantine, "iter_quarantine", broken)
    with pytest.raises(OSError, match="disk full"):
        write_quarantine(v, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [target.name]
