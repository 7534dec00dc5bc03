"""Validation that loses nothing: every row is accepted or quarantined with a reason.

Reasons, checked in this order (a row gets the first that applies):

=====================  ==========================================================
``suppressed``           the customer was erased at their request (the id is on the
                         suppression list, :mod:`corecustomers.data.suppression`):
                         counted, never written anywhere, not even to the quarantine
``summary_row``          the customer column holds a total label (``Total``,
                         ``Grand total``, ``Subtotal``, ``合计``, ``总计``, ``小计``,
                         ``汇总`` …, see :data:`SUMMARY_LABELS`): a row an export adds
                         below the data, never a customer
``missing_customer_id``  the customer column is empty or a placeholder such as
                         ``NULL``, ``N/A``, ``-``, ``无`` or ``散客`` (see
                         :data:`PLACEHOLDER_IDS`; configurable)
``unparseable_date``     the date is empty or not a date in a known format
``ambiguous_amount``     the amount is digits and separators that do not form a number
                         with the decimal mark in use (``12,34`` or ``1,2,3`` with the
                         decimal point): never guessed
``non_numeric_amount``   the amount is empty or not a number
``future_date``          the date is after today (in the business time zone)
``date_before_1900``     the date is before 1900-01-01
``duplicate_order_id``   an earlier valid row has the same order id (and the same
                         product, when a product column is mapped); the first copy is
                         kept, so re-running on an appended export never double-counts
=====================  ==========================================================

Exact duplicate rows *without* an order id are kept (they may be real repeat purchases)
and counted as a warning. Negative amounts are returns and are kept.

Customer ids are compared after trimming leading and trailing spaces (``" C1 "`` is
``C1``). The decimal mark of a text amount column is the configured one, else detected
(see :func:`decide_amount_format`): the decimal comma when every amount that reads only
one way reads with the comma, the decimal point otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from corecustomers.data.mapping import OPTIONAL_FIELDS, ColumnMapping
from corecustomers.data.parsing import amount_evidence, with_amount, with_timestamp
from corecustomers.data.readers import ROW_COLUMN, RawSource
from corecustomers.data.suppression import SUPPRESSED, SuppressionList

__all__ = [
    "PLACEHOLDER_IDS",
    "REASONS",
    "SUMMARY_LABELS",
    "AmountFormat",
    "Validated",
    "ValidationCounts",
    "accepted_as_read",
    "accepted_orders_distinct",
    "decide_amount_format",
    "validate",
]

#: Customer ids that mean "no customer", compared without case and surrounding spaces:
#: what databases, spreadsheets and pandas write for a missing value, and the words English
#: and Chinese point-of-sale exports use for an anonymous or walk-in buyer.
PLACEHOLDER_IDS: tuple[str, ...] = (
    "null",
    "(null)",
    "<null>",
    "none",
    "nan",
    "n/a",
    "na",
    "#n/a",
    "undefined",
    "(blank)",
    "-",
    "--",
    "?",
    "—",
    "－",
    "unknown",
    "anonymous",
    "guest",
    "walk-in",
    "无",
    "空",
    "未知",
    "散客",
    "匿名",
    "游客",
    "非会员",
)

#: Total lines that exports append below the data, in the customer column (compared
#: without case, surrounding spaces and a trailing colon).
SUMMARY_LABELS: tuple[str, ...] = (
    "total",
    "totals",
    "grand total",
    "subtotal",
    "sub total",
    "sum",
    "合计",
    "总计",
    "小计",
    "汇总",
    "总和",
    "共计",
)

REASONS: dict[str, tuple[str, str]] = {
    # code: (field whose column is named in the message, what to do)
    SUPPRESSED: ("customer_id", "nothing: the customer's data was erased at their request"),
    "summary_row": (
        "customer_id",
        "nothing: a total line of the export is not a customer and is never counted",
    ),
    "missing_customer_id": (
        "customer_id",
        "fill in the customer id or drop the row (empty ids and placeholders such as "
        "NULL, N/A, - or 散客 are not customers; see placeholder_ids in corecustomers.toml)",
    ),
    "unparseable_date": (
        "timestamp",
        "write dates as YYYY-MM-DD, YYYYMMDD, YYYY/M/D or YYYY年M月D日 "
        "(optionally with a time and a UTC offset)",
    ),
    "ambiguous_amount": (
        "amount",
        "its separators do not form a number with the decimal mark in use; correct the "
        'value, or set decimal = "," or "." in [source] of corecustomers.toml',
    ),
    "non_numeric_amount": (
        "amount",
        "write a number such as 1234.50, 1,234.50 or ¥1,234.50",
    ),
    "future_date": ("timestamp", "correct the date; it is after today"),
    "date_before_1900": ("timestamp", "correct the date; it is before 1900"),
    "duplicate_order_id": (
        "order_id",
        "nothing: the first copy of this order was kept; remove repeated exports",
    ),
}

# How a total label may end: nothing, or a colon (ASCII or full-width, after a space or not).
_COLONS = ("", ":", "：", " :", " ：")

_TEXT_OPTIONAL = ("product", "category", "channel", "store", "referred_by")
_NUMERIC_OPTIONAL = ("quantity", "margin")


@dataclass(frozen=True)
class AmountFormat:
    """How the text amounts were read: the decimal mark and who decided it.

    ``decided_by`` is ``"setting"`` (the configured ``decimal``), ``"detected"`` (every
    amount that reads only one way reads with the decimal comma), ``"default"`` (the decimal
    point: no setting, and the column does not show the comma consistently) or
    ``"numbers"`` (the column holds numbers, not text: no mark to decide).
    """

    decimal_mark: str | None
    decided_by: str
    point_only: int = 0
    comma_only: int = 0

    @property
    def thousands_mark(self) -> str | None:
        """The thousands separator that goes with the decimal mark."""
        if self.decimal_mark is None:
            return None
        return "." if self.decimal_mark == "," else ","

    def short(self) -> str:
        """A few words: ``decimal point (the default)``, ``decimal comma (detected)`` …"""
        mark = "decimal comma" if self.decimal_mark == "," else "decimal point"
        how = {"setting": "set in the config", "detected": "detected", "default": "the default"}
        return f"{mark} ({how.get(self.decided_by, self.decided_by)})"

    def describe(self) -> str:
        """One sentence for the console and the report."""
        if self.decimal_mark is None:
            return "numbers in the source (no decimal mark to decide)"
        name = (
            "decimal comma (1.234,56)" if self.decimal_mark == "," else "decimal point (1,234.56)"
        )
        how = {
            "setting": "set in the config",
            "detected": (
                f"detected: {self.comma_only:,} amounts read only with the comma, none only "
                "with the point"
            ),
            "default": "the default",
        }[self.decided_by]
        if self.decided_by == "default" and self.comma_only:
            how += (
                f"; {self.comma_only:,} amounts read only with the comma and were "
                "quarantined as ambiguous_amount"
            )
        return f"{name}, {how}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for summary.json."""
        return {
            "decimal_mark": self.decimal_mark,
            "thousands_mark": self.thousands_mark,
            "decided_by": self.decided_by,
            "point_only": self.point_only,
            "comma_only": self.comma_only,
            "description": self.describe(),
        }


def decide_amount_format(table: ir.Table, column: str, decimal: str | None) -> AmountFormat:
    """The decimal mark of ``column``: ``decimal`` when given, else detected (one query).

    A text column is read with the decimal comma only when some amounts read only that
    way and none reads only with the decimal point; ``1.234`` alone decides nothing, so a
    column of such values keeps the default decimal point and says so.
    """
    if not table[column].type().is_string():
        return AmountFormat(decimal_mark=None, decided_by="numbers")
    if decimal is not None:
        return AmountFormat(decimal_mark=decimal, decided_by="setting")
    row = amount_evidence(table, column).to_pyarrow().to_pylist()[0]
    point, comma = int(row["point_only"] or 0), int(row["comma_only"] or 0)
    if comma and not point:
        return AmountFormat(",", "detected", point_only=point, comma_only=comma)
    return AmountFormat(".", "default", point_only=point, comma_only=comma)


#: How many rows :meth:`Validated.keep_bad_rows` looks at first for a repeated order id.
_PROBE_ROWS = 100_000


@dataclass(frozen=True)
class _Scan:
    """What one aggregate over every parsed row found (see :meth:`Validated.keep_bad_rows`).

    ``good`` rows have no basic reason; ``first`` and ``last`` are their earliest and latest
    timestamps. ``candidates`` of them have an order id, ``orders`` distinct ones (None
    without an order column). ``trims`` is whether some value of the columns an as-read
    source would give needs a trim (None when the source cannot be read as it is).
    """

    rows: int
    good: int
    first: Any
    last: Any
    candidates: int
    orders: int | None
    trims: bool | None

    @property
    def no_duplicates(self) -> bool:
        """Whether the duplicate check can find nothing: no good row's order id repeats.

        The check quarantines a good row whose order id (and product, when mapped) an
        earlier good row has; with every good row's order id distinct there is none.
        """
        return self.orders is None or self.orders == self.candidates


@dataclass(frozen=True)
class Validated:
    """Lazy tables: the canonical accepted rows and the quarantined rows.

    The checks run where the data lives. The first :func:`count_rows` (or
    :meth:`keep_bad_rows`) finds the bad rows once and keeps them on the engine (a few
    rows); from then on the accepted rows are every row but those (a join on the row
    number, no re-check) and the quarantine reads the source's values of just those
    rows. Before, every query on :attr:`accepted` or :attr:`quarantine` repeats the checks.

    On DuckDB the bad rows are found by one aggregate over every row first (see
    :meth:`keep_bad_rows`), which also answers :func:`count_rows`, the trim check of
    :func:`accepted_as_read` and :func:`accepted_orders_distinct`: a file in which every
    row is its own order is read once, not four times.
    """

    raw: RawSource
    mapping: ColumnMapping
    amount_format: AmountFormat
    #: Every row parsed, with ``__basic`` (the per-row reason, before duplicates).
    parsed: ir.Table
    #: ``_source_row, __reason`` of the quarantined rows only (few, narrow), lazily.
    reasons: ir.Table
    #: The optional canonical fields that are mapped, besides ``order_id``.
    extra: tuple[str, ...] = ()
    _kept: list[ir.Table] = dataclasses.field(default_factory=list, repr=False, compare=False)
    _scanned: list[_Scan | None] = dataclasses.field(
        default_factory=list, repr=False, compare=False
    )

    def keep_bad_rows(self) -> ir.Table:
        """The bad rows' ``_source_row, __reason``, found once and kept on the engine.

        With an order column the duplicate check is a window over every good row (on
        10M rows most of the validation's cost), which finds nothing when no good row's
        order id repeats. So on DuckDB, unless the first rows already repeat one (lines
        of one order with a product column, or an export appended early), one aggregate
        over every row counts the distinct order ids first (and what :func:`count_rows`,
        :func:`accepted_as_read` and :func:`accepted_orders_distinct` need); when none
        repeats, the bad rows are those with a basic reason, kept without the window (and
        with no second scan when there are none). Otherwise the window runs as before.
        The bad rows are the same either way.
        """
        if not self._kept:
            scan = self._scan()
            if scan is None or not scan.no_duplicates:
                bad = self.reasons
            else:
                bad = _reasons(self.parsed, product=False, orders=False)
                if scan.good == scan.rows:  # nothing to find: an empty table, no scan
                    bad = bad.filter(ibis.literal(False))
            self._kept.append(bad.cache())
        return self._kept[0]

    def _scan(self) -> _Scan | None:
        """The first aggregate (see :meth:`keep_bad_rows`), run once; None when skipped."""
        if not self._scanned:
            self._scanned.append(self._run_scan())
        return self._scanned[0]

    def _run_scan(self) -> _Scan | None:
        parsed = self.parsed
        if parsed._find_backend().name != "duckdb":
            return None  # measured on DuckDB only; other engines keep one query per answer
        good = parsed["__basic"].isnull()
        orders = self.mapping.get("order_id") is not None
        candidate = good & parsed["__order"].notnull()
        if orders:
            # lines of one order (a product column) repeat its id from the first rows on:
            # the aggregate would not spare the window, so it is not run
            head = parsed.limit(_PROBE_ROWS)
            in_head = head["__basic"].isnull() & head["__order"].notnull()
            probe = head.aggregate(n=in_head.sum(), ids=head["__order"].nunique(where=in_head))
            row = probe.to_pyarrow().to_pylist()[0]
            if int(row["n"] or 0) != int(row["ids"] or 0):
                return None
        texts = _as_read_texts(self)
        stamp = parsed["__timestamp"]
        aggs: dict[str, ir.Value] = {
            "rows": parsed.count(),
            "good": good.sum(),
            "first": stamp.min(where=good),
            "last": stamp.max(where=good),
        }
        if orders:
            aggs["candidates"] = candidate.sum()
            aggs["orders"] = parsed["__order"].nunique(where=candidate)
        for i, column in enumerate(texts or ()):
            aggs[f"trim{i}"] = _needs_trim(parsed[column]).sum()
        row = parsed.aggregate(**aggs).to_pyarrow().to_pylist()[0]
        return _Scan(
            rows=int(row["rows"] or 0),
            good=int(row["good"] or 0),
            first=row["first"],
            last=row["last"],
            candidates=int(row.get("candidates") or 0),
            orders=int(row["orders"] or 0) if orders else None,
            trims=None if texts is None else any(row[f"trim{i}"] for i in range(len(texts))),
        )

    @property
    def bad_rows(self) -> ir.Table:
        """``_source_row, __reason``: the kept table once found, else the lazy checks."""
        return self._kept[0] if self._kept else self.reasons

    @property
    def orders_distinct(self) -> bool:
        """Whether no two accepted rows share an order id, by construction (no query).

        True when no product column is mapped: a later valid row with an earlier valid
        row's order id is quarantined as ``duplicate_order_id``, so the accepted order
        ids are distinct (and without an order column there are none). With a product
        column the lines of one order share its id; only a count can tell (see
        :func:`corecustomers.data.features.orders_are_rows`).
        """
        return "product" not in self.extra

    @property
    def accepted(self) -> ir.Table:
        """The accepted rows in the canonical schema, plus ``_source_row``."""
        parsed, bad = self.parsed, self.bad_rows
        return parsed.anti_join(bad, ROW_COLUMN).select(
            customer_id=parsed["__customer"],
            timestamp=parsed["__timestamp"],
            amount=parsed["__amount"],
            order_id=parsed["__order"],
            **{k: parsed[f"__{k}"] for k in self.extra},
            **{ROW_COLUMN: parsed[ROW_COLUMN]},
        )

    @property
    def quarantine(self) -> ir.Table:
        """The quarantined rows: ``_source_row, reason`` and every source column as text."""
        source, bad = self.raw.table, self.bad_rows
        bad = bad.filter(bad["__reason"] != SUPPRESSED)  # erased: their values stay unread
        joined = source.inner_join(bad, source[ROW_COLUMN] == bad[ROW_COLUMN])
        return joined.select(
            source[ROW_COLUMN],
            reason=bad["__reason"],
            **{c: source[c].cast("string") for c in self.raw.columns},
        )

    @property
    def checked(self) -> ir.Table:
        """Every row parsed, with its ``__reason`` (NULL when accepted)."""
        parsed, bad = self.parsed, self.bad_rows
        marked = parsed.left_join(bad, parsed[ROW_COLUMN] == bad[ROW_COLUMN])
        return marked.select(*[parsed[c] for c in parsed.columns], bad["__reason"])


@dataclass(frozen=True)
class ValidationCounts:
    """What happened to the rows (computed by one aggregate query)."""

    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    reasons: dict[str, int]
    first_date: _dt.date | None
    last_date: _dt.date | None

    @property
    def bad_share(self) -> float:
        """Share of rows quarantined."""
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


def _one_of(value: ir.StringValue, values: list[str]) -> ir.BooleanValue:
    """Whether ``value`` is one of ``values`` (a constant list), on any backend."""
    return ibis.literal(values, type="array<string>").contains(value)


def _lower_one_of(value: ir.StringValue, values: list[str]) -> ir.BooleanValue:
    """Whether ``value.lower()`` is one of ``values`` (lower case); never NULL.

    The lower-casing and the lookup run only on the values whose first character could
    start one of ``values`` once lower-cased: an ASCII character whose lower case starts
    one of them, or any other character (which the test lets through, as its lower case
    could be ASCII: ``K``, the Kelvin sign, is ``k``). Most ids start with a digit or a
    letter that starts no placeholder and no total label, and skip both (on DuckDB the
    two lookups in 10M ids cost several seconds of CPU). ``lower()`` of an ASCII
    character is its ASCII lower case on DuckDB, Spark and PostgreSQL (save under a
    Turkish collation), so the result is that of the lookup on every value.
    """
    firsts = {v[0] for v in values if v}
    if not firsts:
        return ibis.literal(False)
    codes = sorted(c for c in range(128) if chr(c).lower() in firsts)
    first = value.ascii_str()
    could = first >= 128
    if codes:
        could |= ibis.literal(codes, type="array<int32>").contains(first.cast("int32"))
    return ibis.ifelse(could, _one_of(value.lower(), values).fill_null(False), False)


#: What ibis' ``strip()`` removes on every backend (``TRIM(x, ' \t\n\r\v\f')``).
_SPACES = " \t\n\r\x0b\x0c"


def _text(value: ir.Value) -> ir.StringValue:
    """``value`` as text without surrounding spaces; NULL when that leaves nothing.

    The trim runs only on the values that can change: an empty one, or one whose first
    character is a space or a control character or whose last is one of :data:`_SPACES`.
    On DuckDB a trim with a set of characters costs about 0.3 µs a value, ten times the
    test (10M rows: 3.2 s of CPU per column against 0.2 s), and an export's ids, order
    numbers and labels seldom need it. The result is the same for every value.
    """
    text = value.cast("string")
    return ibis.ifelse(_needs_trim(text), text.strip().nullif(""), text)


def _needs_trim(text: ir.StringValue) -> ir.BooleanValue:
    """Whether :func:`_text` may change ``text``: empty, or a space or control character
    first, or one of :data:`_SPACES` last (NULL for NULL, which :func:`_text` keeps)."""
    edge = text.ascii_str() <= 32  # also 0 for '' on DuckDB, PostgreSQL and Spark
    for space in _SPACES:
        edge |= text.endswith(space)
    return edge


def validate(
    raw: RawSource,
    mapping: ColumnMapping,
    *,
    today: _dt.date,
    business_offset_minutes: int = 0,
    decimal: str | None = None,
    placeholder_ids: tuple[str, ...] | None = None,
    suppression: SuppressionList | None = None,
) -> Validated:
    """Parse and check every row of ``raw`` lazily.

    Returns the accepted rows in the canonical schema (``customer_id, timestamp, amount,
    order_id`` and the mapped optional fields, plus ``_source_row``) and the quarantined
    rows (``_source_row, reason`` and every source column as text).

    Parameters
    ----------
    decimal
        The decimal mark of text amounts, ``"."`` or ``","``; ``None`` to detect it, which
        runs one aggregate query over the amount column.
    placeholder_ids
        Customer ids that mean "no customer"; ``None`` for :data:`PLACEHOLDER_IDS`.
    suppression
        Erased customers: their rows get the reason ``suppressed`` (one query for the
        distinct ids when the list is not empty).
    """
    t = raw.table
    amount_format = decide_amount_format(t, mapping["amount"], decimal)
    mark = amount_format.decimal_mark or "."
    given = PLACEHOLDER_IDS if placeholder_ids is None else placeholder_ids
    placeholders = sorted({v.strip().lower() for v in given})
    order_col = mapping.get("order_id")
    text_columns: dict[str, ir.Value] = {"__customer": _text(t[mapping["customer_id"]])}
    text_columns["__order"] = _text(t[order_col]) if order_col else ibis.null("string")
    extra: list[str] = []
    for name in OPTIONAL_FIELDS:
        column = mapping.get(name)
        if column is None or name == "order_id":
            continue
        extra.append(name)
        if name not in _NUMERIC_OPTIONAL:
            text_columns[f"__{name}"] = _text(t[column])
    t = t.mutate(**text_columns)
    t = with_timestamp(
        t,
        mapping["timestamp"],
        out="__timestamp",
        business_offset_minutes=business_offset_minutes,
    )
    t = with_amount(
        t, mapping["amount"], out="__amount", decimal=mark, ambiguous="__amount_ambiguous"
    )
    for name in extra:
        if name in _NUMERIC_OPTIONAL:
            t = with_amount(t, mapping[name], out=f"__{name}", decimal=mark)
    amount, stamp = t["__amount"], t["__timestamp"]
    # a plain lookup in a constant list (no regular expression per row): the labels with a
    # trailing colon. Not ``isin``: DuckDB plans a long IN list inside a CASE as a join
    # that carries every row's columns through it, several times slower on 10M rows.
    labels = [f"{label}{colon}" for label in SUMMARY_LABELS for colon in _COLONS]
    label = _lower_one_of(t["__customer"], labels)
    placeholder = _lower_one_of(t["__customer"], placeholders)
    tomorrow = ibis.timestamp(today + _dt.timedelta(days=1))
    erased = suppression.ids_in(t["__customer"]) if suppression else []
    basic = ibis.cases(
        *([(_one_of(t["__customer"], erased).fill_null(False), SUPPRESSED)] if erased else []),
        (label, "summary_row"),
        (t["__customer"].isnull() | placeholder, "missing_customer_id"),
        (stamp.isnull(), "unparseable_date"),
        (t["__amount_ambiguous"], "ambiguous_amount"),
        (amount.isnull() | amount.isnan() | amount.isinf(), "non_numeric_amount"),
        (stamp >= tomorrow, "future_date"),
        (stamp < ibis.timestamp(_dt.datetime(1900, 1, 1)), "date_before_1900"),
        else_=ibis.null("string"),
    )
    parsed = t.mutate(__basic=basic)
    if parsed._find_backend().name != "duckdb":
        # PostgreSQL flattens nested projections and Spark re-plans them for every query,
        # repeating the parse many times over; parse once into a temporary table there.
        parsed = parsed.cache()
    return Validated(
        raw=raw,
        mapping=mapping,
        amount_format=amount_format,
        parsed=parsed,
        reasons=_reasons(parsed, product="product" in extra, orders=order_col is not None),
        extra=tuple(extra),
    )


def _reasons(parsed: ir.Table, *, product: bool, orders: bool) -> ir.Table:
    """``_source_row, __reason`` of the rows to quarantine (few), lazily.

    Only the few columns the reasons need go through the duplicate check, so the engine
    never carries whole rows through a window (on DuckDB that was most of the cost).
    Rows that cannot be a later copy of an order (a basic reason, or no order id) each
    get a partition of their own, so no partition holds every row without an order id.
    """
    narrow = parsed.select(ROW_COLUMN, "__basic", "__order", *(["__product"] if product else []))
    if not orders:
        bad = narrow.filter(narrow["__basic"].notnull())
        return bad.select(ROW_COLUMN, __reason=bad["__basic"])
    candidate = narrow["__basic"].isnull() & narrow["__order"].notnull()
    keys = [
        narrow["__order"],
        ibis.ifelse(candidate, ibis.literal(0, "int64"), narrow[ROW_COLUMN]),
    ]
    if product:
        keys.append(narrow["__product"])
    copy = ibis.row_number().over(ibis.window(group_by=keys, order_by=narrow[ROW_COLUMN]))
    reason = narrow["__basic"].coalesce(
        ibis.ifelse(candidate & (copy > 0), "duplicate_order_id", ibis.null("string"))
    )
    flagged = narrow.select(ROW_COLUMN, __reason=reason)
    return flagged.filter(flagged["__reason"].notnull())


def count_rows(validated: Validated) -> ValidationCounts:
    """Rows read, accepted and quarantined by reason; the first and last valid dates.

    The first call finds the bad rows and keeps them on the engine (see
    :class:`Validated`); then one aggregate over the accepted rows, unless the first
    aggregate of :meth:`Validated.keep_bad_rows` counted them already (when no duplicate
    can be quarantined the accepted rows are the rows without a basic reason).
    """
    r = validated.keep_bad_rows()
    by_reason = r.group_by(reason=r["__reason"]).aggregate(n=r.count()).to_pyarrow().to_pylist()
    reasons = {str(row["reason"]): int(row["n"]) for row in by_reason}
    scan = validated._scan()
    if scan is not None and scan.no_duplicates:
        # the accepted rows are the good ones: the first aggregate counted them
        good = {"n": scan.good, "first": scan.first, "last": scan.last}
    else:
        acc = validated.accepted
        good = (
            acc.aggregate(n=acc.count(), first=acc.timestamp.min(), last=acc.timestamp.max())
            .to_pyarrow()
            .to_pylist()[0]
        )
    accepted = int(good["n"] or 0)
    bad = sum(reasons.values())

    def day(v: Any) -> _dt.date | None:
        return v.date() if isinstance(v, _dt.datetime) else v

    return ValidationCounts(
        rows_read=accepted + bad,
        rows_accepted=accepted,
        rows_quarantined=bad,
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        first_date=day(good["first"]) if accepted else None,
        last_date=day(good["last"]) if accepted else None,
    )


def accepted_as_read(validated: Validated, counts: ValidationCounts) -> ir.Table | None:
    """The accepted rows as a selection of the source's own columns, when reading them
    changed no value; else None. One aggregate query over the text columns, or none.

    So it is for a Parquet file read by DuckDB in which no row was quarantined, whose
    mapped columns already have the canonical types (text; ``timestamp`` in microseconds
    without a time zone; ``float64`` amounts and quantities) and none of whose text values
    is empty or has a space or a control character to trim at either end: the accepted
    rows are then every row of the file, value for value, with the columns, their order
    and their types of a kept copy of :attr:`Validated.accepted`
    (:func:`corecustomers.data.connect.keep_rows`). Reading them from the file spares
    writing that copy (10M rows: about 5 s), and each later query decodes the file's
    columns as it would the copy's. Text read from CSV or Excel, other types, a database
    (whose row numbers are not stable) or any quarantined row give None.
    """
    raw, mapping = validated.raw, validated.mapping
    t = raw.table
    columns = _as_read_texts(validated)
    if counts.rows_quarantined or columns is None:
        return None
    scan = validated._scan() if validated._scanned else None
    if scan is not None and scan.trims is not None:
        if scan.trims:  # counted by the first aggregate (see Validated.keep_bad_rows)
            return None
    else:
        trims = t.aggregate(**{f"c{i}": _needs_trim(t[c]).sum() for i, c in enumerate(columns)})
        if any(trims.to_pyarrow().to_pylist()[0].values()):
            return None
    order = mapping.get("order_id")
    return t.select(
        customer_id=t[mapping["customer_id"]],
        timestamp=t[mapping["timestamp"]],
        amount=t[mapping["amount"]],
        order_id=t[order] if order else ibis.null("string"),
        **{k: t[mapping[k]] for k in validated.extra},
        **{ROW_COLUMN: t[ROW_COLUMN]},
    )


def _as_read_texts(validated: Validated) -> list[str] | None:
    """The text columns :func:`accepted_as_read` checks for a trim, when the source's
    kind, engine and types let it read the accepted rows as they are; else None."""
    raw, mapping = validated.raw, validated.mapping
    t = raw.table
    if raw.kind != "parquet" or t._find_backend().name != "duckdb":
        return None
    order = mapping.get("order_id")
    texts = [mapping["customer_id"], *([order] if order else [])]
    texts += [mapping[n] for n in validated.extra if n not in _NUMERIC_OPTIONAL]
    numbers = [mapping["amount"], *(mapping[n] for n in validated.extra if n in _NUMERIC_OPTIONAL)]
    if not (
        all(t[c].type() == dt.String() for c in texts)
        and all(t[c].type() == dt.Float64() for c in numbers)
        and t[mapping["timestamp"]].type() == dt.Timestamp(scale=6)
    ):
        return None
    return list(dict.fromkeys(texts))


def accepted_orders_distinct(validated: Validated, counts: ValidationCounts) -> bool | None:
    """Whether no two accepted rows share an order id, when known without a query; else
    None (then :func:`corecustomers.data.features.orders_are_rows` counts them).

    True without a product column (:attr:`Validated.orders_distinct`). With one, the
    first aggregate of :meth:`Validated.keep_bad_rows`, when it ran, counted the distinct
    order ids of the good rows: the accepted rows with an order id are those rows when
    none was quarantined as ``duplicate_order_id``, so their ids are distinct exactly
    when that count is their number.
    """
    if validated.orders_distinct:
        return True
    scan = validated._scan() if validated._scanned else None
    if scan is None or scan.orders is None or counts.reasons.get("duplicate_order_id"):
        return None
    return scan.orders == scan.candidates


def exact_duplicate_rows(accepted: ir.Table) -> int:
    """Accepted rows without an order id that repeat an earlier row exactly."""
    acc = accepted.filter(accepted.order_id.isnull())
    cols = [c for c in acc.columns if c != ROW_COLUMN]
    if not cols:
        return 0
    total = acc.count().to_pyarrow().as_py()
    distinct = acc.select(*cols).distinct().count().to_pyarrow().as_py()
    return int(total) - int(distinct)
