"""Dates and amounts in the formats users export, parsed without ever failing, on every engine.

Each value goes through the same Ibis expression on DuckDB, Spark and PostgreSQL (each
engine has its own regular-expression dialect and its own casts) and is compared with a
plain-Python reference: :func:`datetime.datetime.strptime` over the documented formats,
and a few string operations for amounts. The hand-written expectations check the reference.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import string
from collections.abc import Callable, Iterator
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from corecustomers.data.parsing import parse_utc_offset, with_amount, with_timestamp
from corecustomers.errors import ConfigError

# --- the reference ----------------------------------------------------------------------

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
_TIME_FORMATS = ("", "%H:%M", "%H:%M:%S", "%H:%M:%S.%f")
_FORMATS = tuple(
    date + (sep + time if time else "") + zone
    for date, time, sep, zone in itertools.product(
        _DATE_FORMATS, _TIME_FORMATS, (" ", "T"), ("", "%z")
    )
)


#: What may stand in a date text besides ASCII letters, digits and punctuation.
_DATE_TEXT = re.compile(r"[\t 0-9A-Za-z:./+,-]|[年月日]")


def reference_timestamp(text: str, business_offset_minutes: int = 0) -> dt.datetime | None:
    """``text`` read by :func:`~datetime.datetime.strptime` with the first format that fits.

    The documented rules, applied before and after ``strptime``: ASCII digits and spaces
    only (``strptime`` alone would also take full-width digits and no-break spaces); a
    zone may be ``Z``, ``UTC`` or ``+08`` and may follow a space; a decimal comma may
    stand before the fraction of a second, which is then dropped; a UTC offset (at most 14
    hours) moves the value into the business time zone, and a value without one is taken
    as already in it. ``None`` when no format fits, as for an impossible day or hour.
    """
    value = text.strip(string.whitespace)
    if any(not _DATE_TEXT.fullmatch(ch) for ch in value):
        return None
    value = re.sub(r"(:\d{2}),(\d)", r"\1.\2", value)  # decimal comma
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)  # strptime reads up to microseconds
    value = re.sub(r"\s*(?:Z|UTC)$", "+0000", value)
    value = re.sub(r"(:\d{1,2}(?:\.\d+)?)\s*([+-]\d{2})$", r"\1\g<2>00", value)
    value = re.sub(r"(\d)\s+([+-]\d{2}:?\d{2})$", r"\1\2", value)
    for fmt in _FORMATS:
        try:
            parsed = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        parsed = parsed.replace(microsecond=0)
        offset = parsed.utcoffset()
        if offset is None:
            return parsed
        if abs(offset) > dt.timedelta(hours=14):
            return None
        return parsed.replace(tzinfo=None) - offset + dt.timedelta(minutes=business_offset_minutes)
    return None


_CURRENCY_WORDS = ("RMB", "CNY", "USD", "HKD", "EUR", "元", "¥", "￥", "$", "€", "£")


def reference_amount(text: str) -> float | None:
    """A money text as a number, with the decimal point: currency marks and spaces removed,
    ``(x)`` is ``-x``, commas only as thousands separators in groups of three. ``None``
    unless what is left is a plain decimal or scientific number in ASCII digits, of at most
    40 characters with an exponent of at most two digits (the documented limits, which keep
    every amount well inside a double)."""
    value = text.strip(string.whitespace)
    negative = value.startswith("(") and value.endswith(")")
    value = value.strip("()")
    for word in _CURRENCY_WORDS:
        value = value.replace(word, "")
    value = re.sub(f"[{re.escape(string.whitespace)}\u00a0\u202f]", "", value)
    grouped = r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?"
    number = rf"[+-]?({grouped}|[0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{{1,2}})?"
    if len(value) > 40 or not re.fullmatch(number, value):
        return None
    amount = float(value.replace(",", ""))
    return -abs(amount) if negative else amount


# --- the values -------------------------------------------------------------------------

#: Every documented date format, with the value it stands for (business time zone UTC).
DATES = [
    ("2024-03-05", dt.datetime(2024, 3, 5)),
    ("2024-3-5", dt.datetime(2024, 3, 5)),
    ("2024-03-05 14:22:10", dt.datetime(2024, 3, 5, 14, 22, 10)),
    ("2024-03-05T14:22:10", dt.datetime(2024, 3, 5, 14, 22, 10)),
    ("2024-03-05 14:22", dt.datetime(2024, 3, 5, 14, 22)),
    ("2024-03-05T14:22:10.123", dt.datetime(2024, 3, 5, 14, 22, 10)),
    ("2024-03-05 14:22:10.999999", dt.datetime(2024, 3, 5, 14, 22, 10)),
    ("20240305", dt.datetime(2024, 3, 5)),
    ("2024/3/5", dt.datetime(2024, 3, 5)),
    ("2024/03/05 08:00:00", dt.datetime(2024, 3, 5, 8)),
    ("2024.3.5", dt.datetime(2024, 3, 5)),
    ("2024.03.05 23:59:59", dt.datetime(2024, 3, 5, 23, 59, 59)),
    ("2024年3月5日", dt.datetime(2024, 3, 5)),
    ("2024年3月5日 9:05", dt.datetime(2024, 3, 5, 9, 5)),
    ("2024年12月31日 23:59:59", dt.datetime(2024, 12, 31, 23, 59, 59)),
    # padded: spaces, a tab, a newline
    (" 2024-02-29 ", dt.datetime(2024, 2, 29)),
    ("\t2024-03-05 10:00:00\t", dt.datetime(2024, 3, 5, 10)),
    ("  20240305\n", dt.datetime(2024, 3, 5)),
    # a UTC offset is converted into the business time zone (UTC here)
    ("2024-03-05T01:30:00+08:00", dt.datetime(2024, 3, 4, 17, 30)),
    ("2024-03-05T23:30:00-05:00", dt.datetime(2024, 3, 6, 4, 30)),
    ("2024-03-05 10:00:00Z", dt.datetime(2024, 3, 5, 10, 0)),
    ("2024-03-05T10:00:00Z", dt.datetime(2024, 3, 5, 10, 0)),
    ("2024-03-05 10:00:00+0530", dt.datetime(2024, 3, 5, 4, 30)),
    ("2024-03-05T14:22:10.123+08:00", dt.datetime(2024, 3, 5, 6, 22, 10)),
    ("2024-01-01T00:30:00+01:00", dt.datetime(2023, 12, 31, 23, 30)),  # across a year
    ("2024-02-29 23:00:00-02:00", dt.datetime(2024, 3, 1, 1, 0)),  # off a leap day
    ("2024-03-05 10:00:00 Z", dt.datetime(2024, 3, 5, 10, 0)),
    ("2024-03-05 10:00:00 UTC", dt.datetime(2024, 3, 5, 10, 0)),
    ("2024-03-05 10:00:00+08", dt.datetime(2024, 3, 5, 2, 0)),
    ("2024-03-05 10:00:00 +14:00", dt.datetime(2024, 3, 4, 20, 0)),
    ("2024-03-05T10:00:00.1234567Z", dt.datetime(2024, 3, 5, 10, 0)),
    # a decimal comma before the fraction; a lower-case t; single digits everywhere
    ("2024-03-05 10:00:00,5", dt.datetime(2024, 3, 5, 10, 0)),
    ("2024-03-05t10:00", dt.datetime(2024, 3, 5, 10, 0)),
    ("2024-3-5 7:5:3", dt.datetime(2024, 3, 5, 7, 5, 3)),
]
#: Texts that are not dates; each must become NULL, never an error.
BAD_DATES = [
    "",
    "   ",
    "yesterday",
    "2023-02-29",  # not a leap year
    "1900-02-29",  # divisible by 100, not by 400
    "2024-13-01",
    "2024-00-10",
    "2024-04-31",
    "2024-06-00",
    "2024-01-01 25:00",
    "2024-01-01 24:00:00",
    "2024-01-01 12:60",
    "2024-01-01 12:00:60",
    "05/03/2024",
    "2024-03-05 10:00:00 +08:00 extra",
    "20241301",
    "2024年2月30日",
    "2024年3月5日9:05",  # no space between date and time
    "2024-03-05 10:00:00+15:00",  # no such offset
    "2024-03-05 10:00:00+99:00",
    "2024-03-05 10:00:00+08:60",
    "2024-03-05\u00a010:00",  # a no-break space
    "２０２４-03-05",  # full-width digits
    "\u30002024-03-05\u3000",  # ideographic spaces
]

AMOUNTS = [
    ("1234.5", 1234.5),
    ("1,234.50", 1234.5),
    ("¥1,234.50", 1234.5),
    ("￥88", 88.0),
    ("$12", 12.0),
    ("€3", 3.0),
    ("£7.25", 7.25),
    ("12元", 12.0),
    ("RMB 99", 99.0),
    ("CNY 1,000", 1000.0),
    ("USD 5.5", 5.5),
    ("-12.50", -12.5),
    ("(12.50)", -12.5),
    ("(¥1,000)", -1000.0),
    ("+3", 3.0),
    (".5", 0.5),
    ("1.2e3", 1200.0),
    ("1E-2", 0.01),
    (" 7 ", 7.0),
    ("\t8\t", 8.0),
    ("0", 0.0),
    ("abc", None),
    ("", None),
    ("1.2.3", None),
    ("--5", None),
    ("NaN", None),
    ("Infinity", None),
    ("1e", None),
    ("12-", None),
    ("12 元", 12.0),
    ("1,234,567.5", 1234567.5),
    ("12,34", None),  # a comma that groups no thousands: not read with the decimal point
    ("1,2,3", None),
    ("1\u00a0000", 1000.0),  # a no-break space between thousands
    ("$ 1,234.5", 1234.5),
    ("1 000", 1000.0),
    ("9" * 40, float("9" * 40)),
    ("9" * 41, None),  # past the documented length
    ("1e99", 1e99),
    ("1e400", None),  # would overflow a double: an error on PostgreSQL, not a NULL
    ("1e-400", None),
    ("１２", None),  # full-width digits
    ("١٢", None),  # Arabic-Indic digits
]


def test_reference_reads_dates_as_written_down() -> None:
    assert [reference_timestamp(s) for s, _ in DATES] == [want for _, want in DATES]
    assert [reference_timestamp(s) for s in BAD_DATES] == [None] * len(BAD_DATES)
    assert [reference_amount(s) for s, _ in AMOUNTS] == [want for _, want in AMOUNTS]


# --- the engines ------------------------------------------------------------------------

ENGINES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("pyspark", id="pyspark", marks=pytest.mark.spark),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
_names = itertools.count()
Load = Callable[[pa.Table], ir.Table]


@pytest.fixture(scope="module", params=ENGINES)
def load(request: pytest.FixtureRequest) -> Iterator[Load]:
    """Put an Arrow table into a table on one engine (dropped at the end of the module)."""
    engine: str = request.param
    con = request.getfixturevalue(f"{'spark' if engine == 'pyspark' else engine}_con")
    created: list[str] = []

    def _load(data: pa.Table) -> ir.Table:
        name = f"cc_parsing_{next(_names)}"
        created.append(name)
        if engine == "pyspark":  # no temporary tables in Ibis' PySpark backend
            session = request.getfixturevalue("spark_session")
            session.createDataFrame(data).createOrReplaceTempView(name)
            return con.table(name)
        return con.create_table(name, data, temp=True, overwrite=True)

    yield _load
    for name in created:
        if engine == "pyspark":
            request.getfixturevalue("spark_session").catalog.dropTempView(name)
        else:
            con.drop_table(name, force=True)


def _values(table: ir.Table, expr: ir.Table, column: str) -> list[Any]:
    rows = expr.select("i", column).order_by("i").to_pyarrow().to_pylist()
    return [row[column] for row in rows]


@pytest.mark.parametrize("business_offset", [0, 480, -330], ids=["utc", "utc+8", "utc-5:30"])
def test_dates_agree_with_reference(load: Load, business_offset: int) -> None:
    texts = [s for s, _ in DATES] + BAD_DATES
    table = load(pa.table({"i": list(range(len(texts))), "s": texts}))
    expr = with_timestamp(table, "s", out="parsed", business_offset_minutes=business_offset)
    got = dict(zip(texts, _values(table, expr, "parsed"), strict=True))
    want = {s: reference_timestamp(s, business_offset) for s in texts}
    assert {s: v for s, v in got.items() if v != want[s]} == {}


def test_amounts_agree_with_reference(load: Load) -> None:
    texts = [s for s, _ in AMOUNTS]
    table = load(pa.table({"i": list(range(len(texts))), "a": texts}))
    got = dict(zip(texts, _values(table, with_amount(table, "a", out="x"), "x"), strict=True))
    want = {s: reference_amount(s) for s in texts}
    assert {s: v for s, v in got.items() if v != want[s]} == {}


def _ymd(expr: ir.Table, column: str) -> ir.Table:
    """``column`` as the integer yyyymmdd (9999-12-31 does not fit pandas' timestamps,
    which Ibis' PySpark backend reads results through)."""
    stamp = expr[column]
    return expr.mutate(**{column: stamp.year() * 10000 + stamp.month() * 100 + stamp.day()})


def test_integer_and_typed_dates(load: Load) -> None:
    numbers = [20240229, 20230229, 20241301, 123, 99991231, 19970101, 10101]
    table = load(
        pa.table(
            {
                "i": list(range(len(numbers))),
                "n": numbers,
                "d": [dt.date(2024, 1, 2)] * len(numbers),
            }
        )
    )
    got = _values(table, _ymd(with_timestamp(table, "n", out="p"), "p"), "p")
    assert got == [20240229, None, None, None, 99991231, 19970101, 10101]
    assert _values(table, with_timestamp(table, "d", out="p"), "p") == [
        dt.datetime(2024, 1, 2)
    ] * len(numbers)


# --- engine-free ------------------------------------------------------------------------


def test_business_time_zone_moves_offset_timestamps_only() -> None:
    t = ibis.memtable({"s": ["2024-03-05T23:30:00+00:00", "2024-03-05 23:30:00"]})
    got = ibis.duckdb.connect().execute(
        with_timestamp(t, "s", out="p", business_offset_minutes=480).p
    )
    assert got[0].to_pydatetime() == dt.datetime(2024, 3, 6, 7, 30)  # next local day
    assert got[1].to_pydatetime() == dt.datetime(2024, 3, 5, 23, 30)  # taken as local


def test_utc_offsets() -> None:
    assert parse_utc_offset("+08:00") == 480
    assert parse_utc_offset("-0530") == -330
    assert parse_utc_offset("UTC") == 0
    with pytest.raises(ConfigError, match="UTC offset"):
        parse_utc_offset("Asia/Shanghai")
