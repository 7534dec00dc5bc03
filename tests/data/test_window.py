"""The one "rows up to a date" (``data.window.rows_up_to``) on timestamps, dates, any column,
and its complement (``rows_after``: the rows an analysis as of a date leaves out)."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from corecustomers.data.window import rows_after, rows_up_to

AS_OF = dt.date(2026, 3, 1)


@pytest.mark.parametrize("column", ["timestamp", "at"])
def test_the_whole_day_is_in_and_the_next_midnight_is_out(column: str) -> None:
    moments = [
        dt.datetime(2026, 3, 1, 0, 0),
        dt.datetime(2026, 3, 1, 23, 59, 59, 999_999),
        dt.datetime(2026, 3, 2, 0, 0),
        dt.datetime(2025, 12, 31, 12, 0),
    ]
    table = ibis.memtable({"n": [1, 2, 3, 4], column: moments})
    # the transactions' ``timestamp`` is the default column
    kept = (
        rows_up_to(table, AS_OF)
        if column == "timestamp"
        else rows_up_to(table, AS_OF, column=column)
    )
    assert sorted(kept.n.to_pyarrow().to_pylist()) == [1, 2, 4]


def test_a_date_column_is_compared_as_a_date() -> None:
    days = [dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
    table = ibis.memtable({"n": [1, 2, 3], "day": days})
    assert sorted(rows_up_to(table, AS_OF, column="day").n.to_pyarrow().to_pylist()) == [1, 2]


def test_the_rows_after_are_the_complement_at_the_midnight_and_on_dates() -> None:
    moments = [
        dt.datetime(2026, 3, 1, 23, 59, 59, 999_999),
        dt.datetime(2026, 3, 2, 0, 0),
        dt.datetime(2026, 3, 2, 0, 0, 0, 1),
        None,  # in neither
    ]
    table = ibis.memtable(
        {"n": [1, 2, 3, 4], "timestamp": moments},
        schema={"n": "int64", "timestamp": "timestamp"},
    )
    assert sorted(rows_after(table, AS_OF).n.to_pyarrow().to_pylist()) == [2, 3]
    assert sorted(rows_up_to(table, AS_OF).n.to_pyarrow().to_pylist()) == [1]
    days = ibis.memtable({"n": [1, 2], "day": [dt.date(2026, 3, 1), dt.date(2026, 3, 2)]})
    assert rows_after(days, AS_OF, column="day").n.to_pyarrow().to_pylist() == [2]
