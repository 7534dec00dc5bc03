"""Parse dates and amounts as Ibis expressions that never fail.

Every parser returns NULL where a value cannot be read, so that validation can quarantine
the row with a reason instead of stopping the run. The expressions use only operations
that DuckDB, Spark and PostgreSQL share (regular expressions, integer arithmetic,
``make_date``), so the same parse runs where the data lives.

Dates understood
    ISO ``2024-03-05``, ``2024-03-05 14:22:10``, ``2024-03-05T14:22:10.123+08:00``;
    ``20240305`` (text or integer); ``2024/3/5``; ``2024.3.5``; ``2024年3月5日``
    (optionally followed by a time). A UTC offset (``Z``, ``+08:00``, ``-0500``) is
    converted into the business time zone; a time without an offset is taken as already
    being in the business time zone.
Amounts understood
    ``1234.5``, ``1,234.50``, ``¥1,234.50``, ``￥88``, ``$12``, ``€3``, ``12元``,
    ``RMB 99``, ``-12.50`` and ``(12.50)`` (both negative: a return), ``1.2e3``. The comma
    is read as a thousands separator, never as a decimal mark.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from corecustomers.errors import ConfigError

__all__ = ["parse_amount", "parse_timestamp", "parse_utc_offset"]

_DATE = (
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:(?:T|\s+)(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})(?:[.,]\d+)?秒?)?)?"
    r"\s*(Z|UTC|[+-]\d{2}:?\d{2}|[+-]\d{2})?$"
)
_COMPACT = r"^(\d{4})(\d{2})(\d{2})(?:\.0*)?$"
_OFFSET = r"^([+-])(\d{2}):?(\d{2})?$"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_CURRENCY = r"[\s,¥￥$€£()]|RMB|CNY|USD|HKD|元"


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


def parse_timestamp(value: ir.Value, *, business_offset_minutes: int = 0) -> ir.TimestampValue:
    """A timestamp column from any date-like column; NULL where unreadable.

    Parameters
    ----------
    value
        A string, integer (``yyyymmdd``), date or timestamp column.
    business_offset_minutes
        The business time zone as minutes east of UTC; values that carry their own
        offset are converted into it.
    """
    dtype = value.type()
    if dtype.is_timestamp():
        ts = value.cast(dt.Timestamp())
        return ts  # type: ignore[return-value]
    if dtype.is_date():
        return value.cast(dt.Timestamp())  # type: ignore[return-value]
    if dtype.is_floating():
        value = value.cast("int64")
        dtype = value.type()
    text = value.cast("string").strip()
    year = _group(text, _DATE, 1).coalesce(_group(text, _COMPACT, 1)).cast("int64")
    month = _group(text, _DATE, 2).coalesce(_group(text, _COMPACT, 2)).cast("int64")
    day = _group(text, _DATE, 3).coalesce(_group(text, _COMPACT, 3)).cast("int64")
    hour = _group(text, _DATE, 4).cast("int64").coalesce(0)
    minute = _group(text, _DATE, 5).cast("int64").coalesce(0)
    second = _group(text, _DATE, 6).cast("int64").coalesce(0)
    zone = _group(text, _DATE, 7)
    sign = ibis.ifelse(_group(zone, _OFFSET, 1) == "-", -1, 1)
    zone_minutes = sign * (
        _group(zone, _OFFSET, 2).cast("int64").coalesce(0) * 60
        + _group(zone, _OFFSET, 3).cast("int64").coalesce(0)
    )
    shift = ibis.ifelse(zone.isnull(), 0, business_offset_minutes - zone_minutes)
    month_ok = month.between(1, 12)
    valid = (
        year.between(1, 9999)
        & month_ok
        & (day >= 1)
        & (day <= _days_in_month(year, ibis.ifelse(month_ok, month, 1)))
        & (hour < 24)
        & (minute < 60)
        & (second < 60)
    )
    safe_date = ibis.date(
        ibis.ifelse(valid, year, 2000),
        ibis.ifelse(valid, month, 1),
        ibis.ifelse(valid, day, 1),
    )
    seconds = hour * 3600 + minute * 60 + second + shift * 60
    stamp = safe_date.cast(dt.Timestamp()) + seconds.as_interval("s")
    return ibis.ifelse(valid.fill_null(False), stamp, ibis.null(dt.Timestamp()))  # type: ignore[no-any-return]


def parse_amount(value: ir.Value) -> ir.FloatingValue:
    """A float64 column from a numeric or money-formatted text column; NULL where unreadable.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"a": ["¥1,234.50", "(12)", "abc"]})
    >>> ibis.duckdb.connect().execute(parse_amount(t.a)).tolist()[:2]
    [1234.5, -12.0]
    """
    dtype = value.type()
    if dtype.is_numeric() or dtype.is_boolean():
        return value.cast("float64")  # type: ignore[return-value]
    text = value.cast("string").strip()
    negative = text.startswith("(") & text.endswith(")")
    cleaned = text.re_replace(_CURRENCY, "")
    number = ibis.ifelse(cleaned.re_search(_NUMBER), cleaned.cast("float64"), ibis.null("float64"))
    return ibis.ifelse(negative.fill_null(False), -number.abs(), number)  # type: ignore[no-any-return]
