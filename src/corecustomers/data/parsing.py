"""Parse dates and amounts as Ibis expressions that never fail.

Every parser returns NULL where a value cannot be read, so that validation can quarantine
the row with a reason instead of stopping the run. The expressions use only operations
that DuckDB, Spark and PostgreSQL share (regular expressions, integer arithmetic,
``make_date``), so the same parse runs where the data lives.

Dates understood
    ISO ``2024-03-05``, ``2024-03-05 14:22:10``, ``2024-03-05T14:22:10.123+08:00``;
    ``20240305`` (text or integer); ``2024/3/5``; ``2024.3.5``; ``2024年3月5日``
    (optionally followed by a time; ``T`` or ``t`` or spaces between date and time). A UTC
    offset (``Z``, ``UTC``, ``+08:00``, ``-0500``, ``+08``; at most 14 hours) is converted
    into the business time zone; a time without an offset is taken as already being in
    the business time zone. Fractions of a second are dropped. Digits and spaces are
    ASCII ones; an impossible day or time (``2024-04-31``, ``25:00``) is NULL.
Amounts understood
    ``1234.5``, ``1,234.50``, ``¥1,234.50``, ``￥88``, ``$12``, ``€3``, ``12元``,
    ``RMB 99``, ``-12.50`` and ``(12.50)`` (both negative: a return), ``1.2e3``, with the
    decimal point. With the decimal comma (``decimal=","``): ``1.234,56``, ``12,5``,
    ``€ 1 234,56``. A separator that does not fit the convention (``12,34`` or ``1,2,3``
    with the decimal point, ``1.5`` with the decimal comma) makes the amount *ambiguous*:
    NULL, flagged, never guessed. :func:`amount_evidence` counts the values that read only
    one way, so that a caller can detect a column written consistently with the comma.
    A number text longer than 40 characters or with an exponent of more than two digits
    is not an amount.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from corecustomers.errors import ConfigError

__all__ = [
    "DECIMAL_MARKS",
    "amount_evidence",
    "parse_utc_offset",
    "with_amount",
    "with_timestamp",
]

_DATE = (
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:(?:[Tt]|\s+)(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})(?:[.,]\d+)?秒?)?)?"
    r"\s*(Z|UTC|[+-]\d{2}:?\d{2}|[+-]\d{2})?$"
)
_COMPACT = r"^(\d{4})(\d{2})(\d{2})(?:\.0*)?$"
_OFFSET = r"^([+-])(\d{2}):?(\d{2})?$"
#: The decimal marks an amount column can be written with.
DECIMAL_MARKS = (".", ",")
# A valid number with the decimal point: thousands grouped by commas in threes, or none.
_POINT = r"^[+-]?(\d{1,3}(,\d{3})+(\.\d*)?|\d+\.?\d*|\.\d+)([eE][+-]?\d{1,2})?$"
# A valid number with the decimal comma: thousands grouped by points in threes, or none.
_COMMA = r"^[+-]?(\d{1,3}(\.\d{3})+(,\d*)?|\d+,?\d*|,\d+)$"
# Digits and separators: a number in some convention, but perhaps not in the chosen one.
_NUMERIC_LOOKING = r"^[+-]?[\d.,]*\d[\d.,]*$"
#: Longer number texts are not amounts (and could overflow a double, an error on PostgreSQL).
_NUMBER_MAX_CHARS = 40
#: The widest UTC offset in use (UTC+14:00, Kiribati); wider ones are not offsets.
_MAX_OFFSET_MINUTES = 14 * 60
# Currency marks and spaces (also the no-break spaces of French and Swiss exports) are
# removed before the number is read; parentheses mark a negative amount.
_SYMBOLS = "[\\s\u00a0\u202f¥￥$€£()]|RMB|CNY|USD|HKD|EUR|元"


def parse_utc_offset(text: str) -> int:
    """Minutes east of UTC for ``"+08:00"``, ``"-05:00"``, ``"UTC"`` or ``"Z"``.

    Examples
    --------
    >>> parse_utc_offset("+08:00")
    480
    >>> parse_utc_offset("UTC")
    0
    """
    value = text.strip().upper()
    if value in ("", "Z", "UTC", "GMT"):
        return 0
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", value)
    if not m:
        raise ConfigError(
            f"timezone {text!r} is not a UTC offset; write it as +08:00, -05:00 or UTC"
        )
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if minutes > 14 * 60:
        raise ConfigError(f"timezone {text!r} is more than 14 hours from UTC")
    return minutes if m.group(1) == "+" else -minutes


def _group(text: ir.StringValue, pattern: str, index: int) -> ir.StringValue:
    return text.re_extract(pattern, index).nullif("")


def _days_in_month(year: ir.IntegerValue, month: ir.IntegerValue) -> ir.IntegerValue:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return ibis.cases(
        (month == 2, ibis.ifelse(leap, 29, 28)),
        (month.isin([4, 6, 9, 11]), 30),
        else_=31,
    )


def with_timestamp(
    table: ir.Table, column: str, *, out: str, business_offset_minutes: int = 0
) -> ir.Table:
    """``table`` plus a timestamp column ``out`` parsed from ``column``; NULL where unreadable.

    The parse is built in stages (text → regex groups → checks → value), each a projection
    that refers to the previous one by column, so the SQL stays small on every backend.

    Parameters
    ----------
    table, column
        The table and its string, integer (``yyyymmdd``), date or timestamp column.
    out
        Name of the new column.
    business_offset_minutes
        The business time zone as minutes east of UTC; values that carry their own
        offset are converted into it.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"d": ["2024年3月5日", "20240306", "nonsense"]})
    >>> ibis.duckdb.connect().execute(with_timestamp(t, "d", out="ts").ts).dt.day.tolist()
    [5.0, 6.0, nan]
    """
    value = table[column]
    dtype = value.type()
    if dtype.is_timestamp() or dtype.is_date():
        return table.mutate(**{out: value.cast(dt.Timestamp())})
    if dtype.is_floating():
        value = value.cast("int64")
        dtype = value.type()
    if dtype.is_integer():
        return _from_yyyymmdd(table, value, out=out)
    p = f"__{out}_"
    t = table.mutate(**{p + "text": value.cast("string").strip()})
    text = t[p + "text"]
    t = t.mutate(
        **{
            p + "y": _group(text, _DATE, 1).coalesce(_group(text, _COMPACT, 1)).cast("int64"),
            p + "mo": _group(text, _DATE, 2).coalesce(_group(text, _COMPACT, 2)).cast("int64"),
            p + "d": _group(text, _DATE, 3).coalesce(_group(text, _COMPACT, 3)).cast("int64"),
            p + "h": _group(text, _DATE, 4).cast("int64").coalesce(0),
            p + "mi": _group(text, _DATE, 5).cast("int64").coalesce(0),
            p + "s": _group(text, _DATE, 6).cast("int64").coalesce(0),
            p + "zone": _group(text, _DATE, 7),
        }
    )
    year, month, day = t[p + "y"], t[p + "mo"], t[p + "d"]
    hour, minute, second, zone = t[p + "h"], t[p + "mi"], t[p + "s"], t[p + "zone"]
    sign = ibis.ifelse(_group(zone, _OFFSET, 1) == "-", -1, 1)
    zone_minute_part = _group(zone, _OFFSET, 3).cast("int64").coalesce(0)
    zone_minutes = sign * (
        _group(zone, _OFFSET, 2).cast("int64").coalesce(0) * 60 + zone_minute_part
    )
    month_ok = month.between(1, 12)
    valid = (
        year.between(1, 9999)
        & month_ok
        & (day >= 1)
        & (day <= _days_in_month(year, ibis.ifelse(month_ok, month, 1)))
        & (hour < 24)
        & (minute < 60)
        & (second < 60)
        & (zone_minute_part < 60)
        & (zone_minutes.abs() <= _MAX_OFFSET_MINUTES)
    ).fill_null(False)
    t = t.mutate(
        **{
            p + "ok": valid,
            p + "sec": hour * 3600
            + minute * 60
            + second
            + ibis.ifelse(zone.isnull(), 0, business_offset_minutes - zone_minutes) * 60,
        }
    )
    ok = t[p + "ok"]
    safe_date = ibis.date(
        ibis.ifelse(ok, t[p + "y"], 2000),
        ibis.ifelse(ok, t[p + "mo"], 1),
        ibis.ifelse(ok, t[p + "d"], 1),
    )
    stamp = safe_date.cast(dt.Timestamp()) + t[p + "sec"].as_interval("s")
    t = t.mutate(**{out: ibis.ifelse(ok, stamp, ibis.null(dt.Timestamp()))})
    return t.drop(*[c for c in t.columns if c.startswith(p)])


def _from_yyyymmdd(table: ir.Table, value: ir.IntegerValue, *, out: str) -> ir.Table:
    """Integer dates ``yyyymmdd`` by arithmetic (no text, no regular expression)."""
    p = f"__{out}_"
    t = table.mutate(
        **{p + "y": value // 10000, p + "mo": (value // 100) % 100, p + "d": value % 100}
    )
    year, month, day = t[p + "y"], t[p + "mo"], t[p + "d"]
    month_ok = month.between(1, 12)
    ok = (
        year.between(1, 9999)
        & month_ok
        & (day >= 1)
        & (day <= _days_in_month(year, ibis.ifelse(month_ok, month, 1)))
    ).fill_null(False)
    t = t.mutate(**{p + "ok": ok})
    ok = t[p + "ok"]
    safe_date = ibis.date(
        ibis.ifelse(ok, t[p + "y"], 2000),
        ibis.ifelse(ok, t[p + "mo"], 1),
        ibis.ifelse(ok, t[p + "d"], 1),
    )
    t = t.mutate(
        **{out: ibis.ifelse(ok, safe_date.cast(dt.Timestamp()), ibis.null(dt.Timestamp()))}
    )
    return t.drop(*[c for c in t.columns if c.startswith(p)])


def _clean_amount(table: ir.Table, column: str, p: str) -> ir.Table:
    """Stage the text of ``column``: ``p + "neg"`` (in parentheses) and ``p + "clean"``."""
    t = table.mutate(**{p + "text": table[column].cast("string").strip()})
    text = t[p + "text"]
    return t.mutate(
        **{
            p + "neg": (text.startswith("(") & text.endswith(")")).fill_null(False),
            p + "clean": text.re_replace(_SYMBOLS, ""),
        }
    )


def with_amount(
    table: ir.Table,
    column: str,
    *,
    out: str,
    decimal: str = ".",
    ambiguous: str | None = None,
) -> ir.Table:
    """``table`` plus a float64 column ``out`` read from a number or money text; NULL where
    unreadable.

    Parameters
    ----------
    table, column
        The table and its text or numeric amount column (numbers are taken as they are).
    out
        Name of the new column.
    decimal
        The decimal mark of text amounts: ``"."`` (``1,234.56``) or ``","`` (``1.234,56``).
    ambiguous
        When given, also a boolean column of this name: True where the text is digits
        and separators that do not form a number with ``decimal`` (``out`` is NULL there).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"a": ["¥1,234.50", "(12)", "abc"]})
    >>> ibis.duckdb.connect().execute(with_amount(t, "a", out="x").x).tolist()[:2]
    [1234.5, -12.0]
    >>> t = ibis.memtable({"a": ["1.234,56", "12,5", "1.5"]})
    >>> ibis.duckdb.connect().execute(with_amount(t, "a", out="x", decimal=",").x).tolist()
    [1234.56, 12.5, nan]
    """
    if decimal not in DECIMAL_MARKS:
        raise ConfigError(f'the decimal mark must be "." or ","; got {decimal!r}')
    value = table[column]
    dtype = value.type()
    if dtype.is_numeric() or dtype.is_boolean():
        t = table.mutate(**{out: value.cast("float64")})
        return t.mutate(**{ambiguous: ibis.literal(False)}) if ambiguous else t
    p = f"__{out}_"
    t = _clean_amount(table, column, p)
    clean = t[p + "clean"]
    if decimal == ".":
        valid = clean.re_search(_POINT)
        digits = clean.replace(",", "")
    else:
        valid = clean.re_search(_COMMA)
        digits = clean.replace(".", "").replace(",", ".")
    readable = valid & (clean.length() <= _NUMBER_MAX_CHARS)
    number = ibis.ifelse(readable, digits.cast("float64"), ibis.null("float64"))
    t = t.mutate(**{out: ibis.ifelse(t[p + "neg"], -number.abs(), number)})
    if ambiguous:
        # only a value that does not read is tested for looking like a number
        looks = clean.re_search(_NUMERIC_LOOKING) & (clean.length() <= _NUMBER_MAX_CHARS)
        flag = ibis.ifelse(valid.fill_null(True), False, looks.fill_null(False))
        t = t.mutate(**{ambiguous: flag})
    return t.drop(*[c for c in t.columns if c.startswith(p)])


def amount_evidence(table: ir.Table, column: str) -> ir.Table:
    """One row: how many text amounts read only with the decimal point, only with the comma.

    ``point_only`` counts values such as ``1,234.50`` or ``12.5``; ``comma_only`` values such
    as ``1.234,56`` or ``12,5``. ``1.234`` and ``1,234`` read both ways and count in
    neither. A column is consistently written with the decimal comma when ``comma_only > 0``
    and ``point_only == 0``.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"a": ["1.234,56", "12,5", "1.234", "7"]})
    >>> ibis.duckdb.connect().execute(amount_evidence(t, "a")).to_dict("records")
    [{'point_only': 0, 'comma_only': 2}]
    """
    p = "__evidence_"
    t = _clean_amount(table.select(column), column, p)
    clean = t[p + "clean"]
    point = clean.re_search(_POINT).fill_null(False)
    comma = clean.re_search(_COMMA).fill_null(False)
    return t.aggregate(
        point_only=ibis.ifelse(point & ~comma, 1, 0).sum().coalesce(0),
        comma_only=ibis.ifelse(comma & ~point, 1, 0).sum().coalesce(0),
    )
