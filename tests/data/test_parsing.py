"""Dates and amounts in the formats users export, parsed without ever failing."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from corecustomers.data.parsing import parse_utc_offset, with_amount, with_timestamp
from corecustomers.errors import ConfigError

DATES = [
    ("2024-03-05", dt.datetime(2024, 3, 5)),
    ("2024-03-05 14:22:10", dt.datetime(2024, 3, 5, 14, 22, 10)),
    ("2024-03-05T14:22:10.123", dt.datetime(2024, 3, 5, 14, 22, 10)),
    ("20240305", dt.datetime(2024, 3, 5)),
    ("2024/3/5", dt.datetime(2024, 3, 5)),
    ("2024.3.5", dt.datetime(2024, 3, 5)),
    ("2024年3月5日", dt.datetime(2024, 3, 5)),
    ("2024年3月5日 9:05", dt.datetime(2024, 3, 5, 9, 5)),
    (" 2024-02-29 ", dt.datetime(2024, 2, 29)),
    # a UTC offset is converted into the business time zone (UTC here)
    ("2024-03-05T01:30:00+08:00", dt.datetime(2024, 3, 4, 17, 30)),
    ("2024-03-05T23:30:00-05:00", dt.datetime(2024, 3, 6, 4, 30)),
    ("2024-03-05 10:00:00Z", dt.datetime(2024, 3, 5, 10, 0)),
    ("2024-03-05 10:00:00+0530", dt.datetime(2024, 3, 5, 4, 30)),
]
BAD_DATES = [
    "",
    "yesterday",
    "2023-02-29",
    "2024-13-01",
    "2024-04-31",
    "2024-01-01 25:00",
    "05/03/2024",
]


def run(con: ibis.BaseBackend, expr: ibis.Expr) -> list[object]:
    return [None if v != v else v for v in con.execute(expr).tolist()]  # NaN/NaT → None


def parse_timestamp(col: ibis.Column, **kw: int) -> ibis.Column:
    table = col.op().rel.to_expr()
    return with_timestamp(table, col.get_name(), out="parsed", **kw).parsed


def parse_amount(col: ibis.Column) -> ibis.Column:
    table = col.op().rel.to_expr()
    return with_amount(table, col.get_name(), out="parsed").parsed


def test_dates_in_every_documented_format() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"s": [s for s, _ in DATES]})
    got = con.execute(parse_timestamp(t.s)).tolist()
    assert [g.to_pydatetime() for g in got] == [want for _, want in DATES]


def test_unreadable_dates_become_null_not_errors() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"s": BAD_DATES}, schema={"s": "string"})
    got = con.execute(parse_timestamp(t.s))
    assert got.isna().all(), got.tolist()


def test_business_time_zone_moves_offset_timestamps_only() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"s": ["2024-03-05T23:30:00+00:00", "2024-03-05 23:30:00"]})
    got = con.execute(parse_timestamp(t.s, business_offset_minutes=480)).tolist()
    assert got[0].to_pydatetime() == dt.datetime(2024, 3, 6, 7, 30)  # next local day
    assert got[1].to_pydatetime() == dt.datetime(2024, 3, 5, 23, 30)  # taken as local


def test_integer_yyyymmdd_and_typed_dates() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"i": [19970101, 20240229], "d": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]})
    assert [v.date() for v in con.execute(parse_timestamp(t.i))] == [
        dt.date(1997, 1, 1),
        dt.date(2024, 2, 29),
    ]
    assert [v.date() for v in con.execute(parse_timestamp(t.d))] == [
        dt.date(2024, 1, 2),
        dt.date(2024, 1, 3),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234.5", 1234.5),
        ("1,234.50", 1234.5),
        ("¥1,234.50", 1234.5),
        ("￥88", 88.0),
        ("$12", 12.0),
        ("12元", 12.0),
        ("RMB 99", 99.0),
        ("-12.50", -12.5),
        ("(12.50)", -12.5),
        ("1.2e3", 1200.0),
        (" 7 ", 7.0),
        ("abc", None),
        ("", None),
        ("1.2.3", None),
        ("--5", None),
    ],
)
def test_amounts(text: str, value: float | None) -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"a": [text]})
    assert run(con, parse_amount(t.a)) == [value]


def test_utc_offsets() -> None:
    assert parse_utc_offset("+08:00") == 480
    assert parse_utc_offset("-0530") == -330
    assert parse_utc_offset("UTC") == 0
    with pytest.raises(ConfigError, match="UTC offset"):
        parse_utc_offset("Asia/Shanghai")


def test_integer_dates_by_arithmetic_reject_impossible_days() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"i": [20240229, 20230229, 20241301, 123, 99991231]})
    got = [None if v != v else v.date() for v in con.execute(parse_timestamp(t.i))]
    assert got == [dt.date(2024, 2, 29), None, None, None, dt.date(9999, 12, 31)]
