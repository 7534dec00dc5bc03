"""Behaviour per customer as lazy Ibis expressions: rhythm, spend trend, breadth, returns.

:func:`customer_behaviour` reads the canonical transactions (``docs/CONTRACTS.md``) and
describes how each customer buys, up to an as-of day, in terms an account manager reads
directly and the early warnings (:mod:`corecustomers.insights.alerts`) and the combined
ranking use as inputs:

* **purchase rhythm** -- the mean and the spread of the gaps between purchase days, the
  day the next purchase is due, and how overdue the customer is against their own rhythm;
* **spend trend** -- net spend in consecutive 90-day windows ending on the as-of day and
  the least-squares slope through them;
* **breadth** -- distinct products and categories bought, when those columns exist;
* **returns** -- the share of gross purchases that came back.

The conventions are those of :func:`corecustomers.data.features.customer_features`: a
*purchase day* is a calendar day of the naive ``timestamp`` with at least one row with
``amount >= 0`` (zero-value orders included); a row with ``amount < 0`` is a return, netted
into the spend of its day, and never a purchase by itself; customers with only returns up
to the as-of day have no row.

Nothing runs until the expression is executed (on DuckDB, but for a small query of the
values of the breadth columns while it is built), so the same code compiles to DuckDB,
Spark and PostgreSQL. The plan is one aggregation of the transactions per customer and, for the
spread of the gaps (which needs consecutive purchase days), a lag over the purchase rows
in day order (:func:`_gap_spread`), joined back on ``customer_id``. On DuckDB the breadth
is counted within that aggregation from integer codes of the values instead of by
distinct counts (:func:`_with_codes`). On the 10M-row benchmark (1M customers, 2
cores, load 1.2-1.5) the query took 7.2-7.3 s with distinct counts and distinct days and
takes 4.4-4.6 s (5.4-6.0 s, under more load, with the codes alone); on one thread 12.9 ->
8.7 s, every column of every customer the same bits. On two threads DuckDB combines a
customer's partial sums in no fixed order, so some ``gap_std_days`` differ in the last
bit between runs: 0-30 of the million between two runs of the distinct days, about 65
(relative difference at most 3.5e-16) between those and the lag over the rows.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
from ibis.common.exceptions import IbisError

from corecustomers.data.connect import is_duckdb
from corecustomers.data.window import day_of, rows_up_to
from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.units import check_dates

__all__ = [
    "ACTIVITY_WINDOW_COLUMNS",
    "BEHAVIOUR_COLUMNS",
    "BREADTH_COLUMNS",
    "WINDOW_DAYS",
    "activity_columns",
    "checked",
    "customer_behaviour",
    "purchase_rows",
    "split_activity",
    "trend_weights",
    "value_code",
    "value_spend_columns",
]

WINDOW_DAYS: Final = 90
"""Length of one spend window in days (about a quarter)."""

TRAILING_YEAR_DAYS: Final = 365
"""Length of the trailing window of ``spend_last_365d`` in days."""

BEHAVIOUR_COLUMNS: Final = (
    "customer_id",
    "n_purchase_days",
    "days_since_last_purchase",
    "mean_gap_days",
    "gap_std_days",
    "expected_next_purchase",
    "overdue_ratio",
    "spend_last_90d",
    "spend_prev_90d",
    "spend_trend",
    "spend_last_365d",
    "gross_spend",
    "return_share",
)
"""Columns of :func:`customer_behaviour`, in order, before the breadth columns."""

ACTIVITY_WINDOW_COLUMNS: Final = ("spend_recent", "spend_previous", "periods_recent")
"""The activity columns of one window (:func:`activity_columns` suffixes each with the
window's length): its spend, the spend of the window before it, its purchase days."""

BREADTH_COLUMNS: Final = (("product", "n_products"), ("category", "n_categories"))
"""Optional transaction column and the breadth column counted from it, in output order."""

_REQUIRED: Final = ("customer_id", "timestamp", "amount")


def trend_weights(n_windows: int) -> tuple[float, ...]:
    """Return the least-squares weights that turn window spends into a slope.

    Window ``k`` (``k = 1`` the most recent) sits at ``x_k = n - k``, so time runs forward
    and a positive slope means rising spend. The ordinary least-squares slope through the
    points :math:`(x_k, y_k)` is :math:`\\sum_k w_k y_k` with
    :math:`w_k = (x_k - \\bar{x}) / \\sum_j (x_j - \\bar{x})^2`, a fixed linear combination
    of the window spends, which is how :func:`customer_behaviour` computes it inside one
    aggregation.

    Parameters
    ----------
    n_windows
        Number of windows, at least 2.

    Returns
    -------
    tuple of float
        ``w_1, ..., w_n``; window 1 is the most recent.

    Raises
    ------
    ConfigError
        If ``n_windows`` is not an integer of at least 2.

    Examples
    --------
    >>> trend_weights(4)
    (0.3, 0.1, -0.1, -0.3)
    >>> spends = (40.0, 30.0, 20.0, 10.0)  # most recent first: rising by 10 a window
    >>> round(sum(w * y for w, y in zip(trend_weights(4), spends)), 12)
    10.0
    """
    if isinstance(n_windows, bool) or not isinstance(n_windows, int) or n_windows < 2:
        raise ConfigError(
            f"n_windows must be an integer of at least 2 (a slope needs two windows), "
            f"got {n_windows!r}."
        )
    xs = [n_windows - k for k in range(1, n_windows + 1)]
    mean = sum(xs) / n_windows
    sxx = sum((x - mean) ** 2 for x in xs)
    return tuple((x - mean) / sxx for x in xs)


def customer_behaviour(
    tx: ir.Table,
    *,
    as_of: datetime.date,
    n_windows: int = 4,
    activity: Sequence[int] = (),
    idle_before: Sequence[int] = (),
    value_spends: Mapping[str, Sequence[str]] | None = None,
) -> ir.Table:
    """Describe each customer's buying behaviour up to ``as_of``, lazily.

    Parameters
    ----------
    tx
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; optionally
        ``product`` and ``category``; see ``docs/CONTRACTS.md``) on any Ibis backend.
    as_of
        Last day observed (inclusive). Transactions after it are ignored.
    n_windows
        Number of consecutive 90-day windows, ending on ``as_of``, through which
        ``spend_trend`` is fitted; at least 2.
    activity, idle_before
        Window lengths (days) of the frames' activity at ``as_of``
        (:func:`activity_columns`), added after the other columns: for each ``w`` of
        ``activity`` the spend in the last two windows of ``w`` days
        (``spend_recent_w``, ``spend_previous_w``) and the purchase days in the last
        (``periods_recent_w``); for each of ``idle_before`` the days from the last
        purchase day on or before ``as_of - w`` to ``as_of`` (``idle_days_before_w``,
        null without one). The same values as the frames' own aggregation of the rows,
        which then need not run (:func:`~corecustomers.insights.at_cut.frames_at`).
    value_spends
        On DuckDB, columns of ``tx`` (the purchase mix's categories and channels, say)
        with a short list of their values each: the customer's purchase spend on each
        value, added last (:func:`value_spend_columns`; null where the customer bought
        none), the sums the purchase mix ranks
        (:func:`~corecustomers.insights.mix.ranked_spends`) without aggregating the rows
        again.

    Returns
    -------
    ibis.expr.types.Table
        An unexecuted expression with one row per customer with at least one purchase day
        up to ``as_of``, in no particular order, with the columns

        ``customer_id`` (string)
            The customer.
        ``n_purchase_days`` (int64)
            Distinct purchase days.
        ``days_since_last_purchase`` (int64)
            ``as_of`` minus the last purchase day, in days (the column of the same name in
            :func:`~corecustomers.data.features.customer_features` at the same ``as_of``).
        ``mean_gap_days`` (float64)
            Mean number of days between consecutive purchase days, ``(last - first) /
            (n_purchase_days - 1)``; null for a one-time buyer.
        ``gap_std_days`` (float64)
            Sample standard deviation of those gaps; null with fewer than two gaps (fewer
            than three purchase days).
        ``expected_next_purchase`` (date)
            Last purchase day plus the mean gap rounded to whole days (halves up); null
            for a one-time buyer.
        ``overdue_ratio`` (float64)
            Days since the last purchase day divided by ``mean_gap_days``: 1 means "due
            today", 2 means twice the usual gap has passed; null for a one-time buyer.
        ``spend_last_90d``, ``spend_prev_90d`` (float64)
            Net spend (returns subtracted) in ``(as_of - 90, as_of]`` and in
            ``(as_of - 180, as_of - 90]``; 0 when nothing was bought.
        ``spend_trend`` (float64)
            Least-squares slope of the net spend of the last ``n_windows`` 90-day windows
            against time, in money per window (:func:`trend_weights`); windows before the
            first purchase count as 0, so a new customer's trend is rising.
        ``spend_last_365d`` (float64)
            Net spend in ``(as_of - 365, as_of]``: the trailing twelve months.
        ``gross_spend`` (float64)
            Sum of the purchase rows (``amount >= 0``) up to ``as_of``.
        ``return_share`` (float64)
            Sum of the absolute returns divided by ``gross_spend``; null when
            ``gross_spend`` is 0.
        ``n_products``, ``n_categories`` (int64)
            Distinct non-null ``product`` / ``category`` values of the purchase rows; only
            when ``tx`` has that column. On DuckDB, a column with at most
            :data:`BREADTH_CODES_MAX` distinct values is counted from integer codes of
            its values, as the set bits of a few machine words per customer, instead
            of a distinct count; the counts, and every other column, are the same. Its
            values are read first (one small query a column, while the expression is
            built) and written into the expression.

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks ``customer_id``, ``timestamp`` or ``amount``.
    ConfigError
        If ``as_of`` is not a :class:`datetime.date` or ``n_windows`` is below 2.

    Notes
    -----
    For purchase days :math:`d_1 < \\dots < d_m` the gaps are :math:`g_i = d_{i+1} - d_i`,
    so the mean gap telescopes to :math:`(d_m - d_1) / (m - 1)` and needs no window
    function; only ``gap_std_days`` does. The next purchase is expected at
    :math:`d_m + \\bar{g}` (rounded as ``floor(x + 0.5)``, the same on every backend) and
    ``overdue_ratio`` is :math:`(\\tau - d_m) / \\bar{g}` for the as-of day :math:`\\tau`.
    Window :math:`k = 1, \\dots, n` covers :math:`(\\tau - 90k, \\tau - 90(k - 1)]`; a
    return counts in the window of its own day.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> from corecustomers.insights.behaviour import customer_behaviour
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": ["a", "a", "a", "a", "b"],
    ...         "timestamp": [
    ...             datetime.datetime(2024, 1, 1, 9),
    ...             datetime.datetime(2024, 1, 11, 17),
    ...             datetime.datetime(2024, 1, 31, 12),
    ...             datetime.datetime(2024, 2, 2, 12),
    ...             datetime.datetime(2024, 3, 1, 8),
    ...         ],
    ...         "amount": [10.0, 20.0, 40.0, -4.0, 5.0],
    ...     }
    ... )
    >>> expr = customer_behaviour(tx, as_of=datetime.date(2024, 3, 31))
    >>> rows = expr.order_by("customer_id").to_pyarrow().to_pylist()
    >>> {k: rows[0][k] for k in ("mean_gap_days", "gap_std_days", "overdue_ratio")}
    {'mean_gap_days': 15.0, 'gap_std_days': 7.0710678118654755, 'overdue_ratio': 4.0}
    >>> rows[0]["expected_next_purchase"], rows[0]["return_share"]
    (datetime.date(2024, 2, 15), 0.05714285714285714)
    >>> rows[1]["mean_gap_days"] is None, rows[1]["spend_last_90d"]
    (True, 5.0)
    """
    check_dates(as_of, None)
    weights = trend_weights(n_windows)
    canonical = checked(tx)
    spends = dict(value_spends or {})
    rows = purchase_rows(canonical, as_of=as_of, extra=tuple(spends))
    dictionaries = _breadth_dictionaries(canonical)
    activity, idle_before = _windows(activity), _windows(idle_before)
    coded = _with_codes(rows, dictionaries)
    main = _aggregate(
        coded,
        as_of=as_of,
        weights=weights,
        n_codes={source: len(values) for source, values in dictionaries.items()},
        activity=activity,
        idle_before=idle_before,
        value_spends=_spend_filters(coded, spends, dictionaries),
    )
    gaps = _gap_spread(rows, as_of=as_of, periods=activity)
    joined = main.left_join(gaps, main.customer_id == gaps.gap_customer_id)

    # the distinct purchase days are one more than the gaps between them (every
    # customer here has a purchase day, so a row in the gaps' window), instead of a distinct
    # count in the main aggregation (10M rows: 6.9 -> 4.4 s for the query)
    n_days = joined.n_gaps.fill_null(0) + 1
    mean_gap = ibis.ifelse(
        n_days > 1,
        joined.last_purchase.delta(joined.first_purchase, unit="day").cast("float64")
        / (n_days - 1).cast("float64"),
        ibis.null("float64"),
    )
    idle_days = ibis.literal(as_of, type="date").delta(joined.last_purchase, unit="day")
    next_gap = (mean_gap + 0.5).floor().cast("int64")
    window_spend = [joined[f"spend_w{k}"].fill_null(0.0) for k in range(1, n_windows + 1)]
    trend: ir.FloatingValue = ibis.literal(0.0, type="float64")
    for w, spend in zip(weights, window_spend, strict=True):
        trend = trend + spend * w
    gross = joined.gross_spend.fill_null(0.0)

    columns: dict[str, ir.Value] = {
        "customer_id": joined.customer_id,
        "n_purchase_days": n_days.cast("int64"),
        "days_since_last_purchase": idle_days.cast("int64"),
        "mean_gap_days": mean_gap.cast("float64"),
        "gap_std_days": ibis.ifelse(
            joined.n_gaps.fill_null(0) >= 2, joined.gap_std, ibis.null("float64")
        ).cast("float64"),
        "expected_next_purchase": joined.last_purchase + next_gap.as_interval("D"),
        "overdue_ratio": (idle_days.cast("float64") / mean_gap).cast("float64"),
        "spend_last_90d": window_spend[0].cast("float64"),
        "spend_prev_90d": window_spend[1].cast("float64"),
        "spend_trend": trend.cast("float64"),
        "spend_last_365d": joined.spend_year.fill_null(0.0).cast("float64"),
        "gross_spend": gross.cast("float64"),
        "return_share": ibis.ifelse(
            gross > 0, joined.returns_amount.fill_null(0.0) / gross, ibis.null("float64")
        ).cast("float64"),
    }
    for source, name in BREADTH_COLUMNS:
        if source in rows.columns:
            columns[name] = joined[name].fill_null(0).cast("int64")
    for name in activity_columns(activity, idle_before):
        value = joined[name]
        # a customer with no purchase day in a window counted none (the frames' count)
        columns[name] = value.fill_null(0) if name.startswith("periods_recent_") else value
    for source, names in spends.items():
        for name in value_spend_columns(source, len(names)):
            columns[name] = joined[name]
    return joined.select(**columns)


def value_spend_columns(source: str, n: int) -> list[str]:
    """The names of :func:`customer_behaviour`'s spends on the ``n`` values of
    ``source`` (``value_spends``), in the values' order.

    >>> value_spend_columns("channel", 2)
    ['spend_on_channel_0', 'spend_on_channel_1']
    """
    return [f"spend_on_{source}_{j}" for j in range(n)]


def _spend_filters(
    rows: ir.Table, spends: Mapping[str, Sequence[str]], dictionaries: Mapping[str, pa.Array]
) -> dict[str, ir.BooleanValue]:
    """For each value of each column of ``spends``: the rows of a purchase of it, by
    column name (:func:`value_spend_columns`), compared as integer codes.

    A column the breadth counts from codes already (:func:`_with_codes`) reuses them:
    each value is the code of its place in that column's dictionary; another column is
    coded here, against its own values (:func:`value_code`). Either way a row with a
    null value, or one not in the list, is in no filter.
    """
    if spends and not is_duckdb(rows.get_backend()):
        raise ConfigError("the spends per value (value_spends) are read on DuckDB only")
    bought = rows.amount >= 0
    out: dict[str, ir.BooleanValue] = {}
    for source, names in spends.items():
        if source not in rows.columns:
            raise ColumnMappingError(
                f"the transactions lack {source!r}, whose spends per value were asked for",
                column=source,
            )
        names = list(names)
        if source in dictionaries:
            place = {value: i + 1 for i, value in enumerate(dictionaries[source].to_pylist())}
            code: ir.IntegerValue = rows[_code_column(source)]
            codes = [place.get(name) for name in names]
        else:
            code = value_code(rows[source], names)
            codes = list(range(1, len(names) + 1))
        for name, c in zip(value_spend_columns(source, len(names)), codes, strict=True):
            # a value the dictionary lacks has no row to sum (a null spend)
            out[name] = bought & (code == c) if c is not None else ibis.literal(False)
    return out


def activity_columns(activity: Sequence[int], idle_before: Sequence[int] = ()) -> list[str]:
    """The names of :func:`customer_behaviour`'s activity columns for those windows, in
    the order it adds them.

    >>> activity_columns((365, 90), (90,))
    ['spend_recent_365', 'spend_previous_365', 'periods_recent_365', 'spend_recent_90', \
'spend_previous_90', 'periods_recent_90', 'idle_days_before_90']
    """
    names = [f"{name}_{w}" for w in _windows(activity) for name in ACTIVITY_WINDOW_COLUMNS]
    return names + [f"idle_days_before_{w}" for w in _windows(idle_before)]


def split_activity(table: pa.Table, names: Sequence[str]) -> tuple[pa.Table, pa.Table | None]:
    """A materialised :func:`customer_behaviour` ``table`` as its behaviour (every column
    but ``names``) and its activity (``customer_id`` and ``names``; None without any).

    >>> t = pa.table({"customer_id": ["a"], "gap_std_days": [1.0], "spend_recent_90": [2.0]})
    >>> behaviour, activity = split_activity(t, ["spend_recent_90"])
    >>> behaviour.column_names, activity.column_names
    (['customer_id', 'gap_std_days'], ['customer_id', 'spend_recent_90'])
    """
    extra = set(names)
    behaviour = table.select([name for name in table.column_names if name not in extra])
    return behaviour, table.select(["customer_id", *names]) if names else None


def _windows(days: Sequence[int]) -> tuple[int, ...]:
    """Distinct window lengths in their order, each a whole number of days of at least 1."""
    out = tuple(dict.fromkeys(days))
    for w in out:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ConfigError(f"an activity window must be a whole number of days >= 1, got {w!r}")
    return out


def checked(tx: ir.Table) -> ir.Table:
    """Return ``tx`` if it has the canonical columns the behaviour needs."""
    missing = [name for name in _REQUIRED if name not in tx.columns]
    if missing:
        raise ColumnMappingError(
            f"the transactions lack {', '.join(missing)}; map the source columns to the "
            f"canonical names (see docs/CONTRACTS.md) before describing behaviour.",
            column=missing[0],
        )
    return tx


def purchase_rows(tx: ir.Table, *, as_of: datetime.date, extra: tuple[str, ...] = ()) -> ir.Table:
    """Rows up to ``as_of`` with ``customer_id``, ``day``, ``amount``, breadth and ``extra``."""
    tx = rows_up_to(tx, as_of)
    day = day_of(tx)
    customer = tx["customer_id"]
    if not customer.type().is_string():
        customer = customer.cast("string")
    columns: dict[str, ir.Value] = {
        "customer_id": customer,
        "day": day,
        "amount": tx["amount"].cast("float64"),
    }
    for source in (*(name for name, _ in BREADTH_COLUMNS), *extra):
        if source in tx.columns:
            columns[source] = tx[source].cast("string")
    return tx.select(**columns)


def _aggregate(
    rows: ir.Table,
    *,
    as_of: datetime.date,
    weights: tuple[float, ...],
    n_codes: Mapping[str, int] | None = None,
    activity: tuple[int, ...] = (),
    idle_before: tuple[int, ...] = (),
    value_spends: Mapping[str, ir.BooleanValue] | None = None,
) -> ir.Table:
    """One pass over the rows: first and last purchase day, window spends, gross,
    returns, breadth (the number of purchase days comes from :func:`_gap_spread`), the
    spends and idle days of the ``activity`` and ``idle_before`` windows, and the
    spends of the rows of each filter of ``value_spends`` (by column name).

    A breadth column named in ``n_codes`` is counted from the codes :func:`_with_codes`
    added to ``rows`` (``n_codes[source]`` of them, 1 to ``n``), the others by a
    distinct count of their values."""
    bought = rows.amount >= 0
    day = rows.day

    def since(days: int) -> ir.BooleanValue:
        return day > ibis.literal(as_of - datetime.timedelta(days=days), type="date")

    metrics: dict[str, ir.Value] = {
        "first_purchase": day.min(where=bought),
        "last_purchase": day.max(where=bought),
        "spend_year": rows.amount.sum(where=since(TRAILING_YEAR_DAYS)),
        "gross_spend": rows.amount.sum(where=bought),
        "returns_amount": (-rows.amount).sum(where=rows.amount < 0),
    }
    for k in range(1, len(weights) + 1):
        in_window = since(WINDOW_DAYS * k)
        if k > 1:
            in_window = in_window & ~since(WINDOW_DAYS * (k - 1))
        metrics[f"spend_w{k}"] = rows.amount.sum(where=in_window)
    for w in activity:
        # the frames' activity (insights._frames._activity): the rows are those up to
        # the as-of day already, so these are its sums over the same rows in the same
        # order
        metrics[f"spend_recent_{w}"] = rows.amount.sum(where=since(w))
        metrics[f"spend_previous_{w}"] = rows.amount.sum(where=since(2 * w) & ~since(w))
    for w in idle_before:
        last = day.max(where=~since(w) & bought)
        metrics[f"idle_days_before_{w}"] = ibis.literal(as_of, type="date").delta(last, unit="day")
    coded = n_codes or {}
    for source, name in BREADTH_COLUMNS:
        if source in coded:
            # the distinct codes (:func:`_with_codes`), counted as set bits; 0 when no
            # purchase row has a value
            metrics[name] = _distinct_codes(rows[_code_column(source)], coded[source], bought)
        elif source in rows.columns:
            metrics[name] = rows[source].nunique(where=bought)
    for name, where in (value_spends or {}).items():
        metrics[name] = rows.amount.sum(where=where)
    agg = rows.group_by("customer_id").aggregate(**metrics)
    return agg.filter(agg.first_purchase.notnull())


BREADTH_CODES_MAX: Final = 256
"""On DuckDB, a breadth column with at most this many distinct values is counted from
small integer codes (:func:`_with_codes`); one with more by a distinct count.

The codes are found by a search of the list of values in each row, whose cost grows
with the list: on the 10M-row benchmark, with the products split into more values, the
search (values in name order) beat the distinct count clearly at 163 values, broke even
at 489 and lost at 978 (13 s against 7-11 s, on a loaded machine). With the most
frequent values first a row's search is shorter (the benchmark's products: 40 values on
average instead of 82), so 256 values search no further than about 128 even when they
are equally frequent."""


WORD_CODES: Final = 63
"""Codes per word of :func:`_distinct_codes`: the bits of a BIGINT but its sign bit."""


def _distinct_codes(code: ir.IntegerValue, n: int, where: ir.BooleanValue) -> ir.IntegerValue:
    """How many of the codes 1 to ``n`` ``code`` takes on the rows ``where`` holds, per
    group: bit ``c - 1`` set for code ``c``, OR-ed into one machine word per
    :data:`WORD_CODES` codes, whose set bits are added up.

    Fixed-size words, where DuckDB's ``bitstring_agg`` kept a bit string of ``n`` bits
    per customer: on the 10M-row benchmark (163 products, 7 categories) the behaviour's
    aggregation took 5.4-5.5 s with the bit strings and 3.5-3.6 s with the words, the
    same counts and the same sums.
    """
    total: ir.IntegerValue | None = None
    one = ibis.literal(1, type="int64")
    for low in range(0, n, WORD_CODES):
        inside = (code > low) & (code <= low + WORD_CODES)
        # a shift only where the code is in this word: a shift of 64 or more is an error
        bit = ibis.ifelse(inside, one << (code - (low + 1)), ibis.null("int64"))
        count = _bit_count(bit.bit_or(where=where)).cast("int64").fill_null(0)
        total = count if total is None else total + count
    if total is None:
        raise ValueError("a column coded has at least one value")
    return total


def _list_position_signature(values: list[str], value: str) -> dt.Int32:
    """DuckDB's ``list_position``: the 1-based position of ``value`` in ``values``, null
    when it is not there (a null ``value`` included, the list holding no null)."""


def _bit_count_signature(bits: int) -> dt.Int8:
    """DuckDB's ``bit_count`` of a BIGINT: how many of its bits are set (a TINYINT)."""


# DuckDB's own functions, called by name (Ibis has no operation for them); made without
# the decorator syntax, whose untyped decorators would leave the functions untyped. Their
# result types are DuckDB's, so that a cast to BIGINT is written out where one is needed
_list_position: Callable[..., ir.IntegerValue] = ibis.udf.scalar.builtin(
    _list_position_signature, name="list_position"
)
_bit_count: Callable[..., ir.IntegerValue] = ibis.udf.scalar.builtin(
    _bit_count_signature, name="bit_count"
)


def value_code(column: ir.Value, values: Sequence[str]) -> ir.IntegerValue:
    """On DuckDB: the 1-based position of ``column``'s value in ``values`` (a short
    list of strings), null when it is not there or null.

    A filter on the code (``code == j``) keeps the rows a filter on the value
    (``column == values[j - 1]``) keeps, at the cost of one comparison of integers
    per filter instead of one of strings (the purchase mix's twelve filtered sums of
    the categories and channels, 10M rows: 5.0 -> 3.8 CPU-s).
    """
    return _list_position(ibis.literal(list(values), type="array<string>"), column)


def _code_column(source: str) -> str:
    return f"_{source}_code"


def _breadth_dictionaries(tx: ir.Table) -> dict[str, pa.Array]:
    """On DuckDB: each breadth column's distinct non-null values as :func:`_rows` casts
    them, the most frequent first (ties by value), when there are 1 to
    :data:`BREADTH_CODES_MAX` of them; elsewhere, and for an unbound ``tx`` (which
    cannot be read), none.

    Read from all the rows of ``tx``, not only those up to the as-of day: a value first
    seen later only has a code nobody sets, and the dictionaries, the constants embedded
    in the query, are the same at every as-of day of the same transactions (a history's
    reused SQL, :mod:`corecustomers.data.compiled`, is keyed by them too). The most
    frequent values first, because a row's code is found by a search of the list
    (:func:`_with_codes`), which stops at the value. Executes one small query a column.
    """
    sources = [source for source, _ in BREADTH_COLUMNS if source in tx.columns]
    if not sources:
        return {}
    try:
        backend = tx.get_backend()
    except IbisError:  # an unbound table: the expression stays portable and lazy
        return {}
    if not is_duckdb(backend):
        return {}
    found: dict[str, pa.Array] = {}
    for source in sources:
        values = tx.select(value=tx[source].cast("string"))
        values = values.filter(values.value.notnull())
        counted = values.group_by("value").aggregate(n_rows=values.count())
        first = counted.order_by([ibis.desc("n_rows"), "value"]).limit(BREADTH_CODES_MAX + 1)
        read = first.to_pyarrow().column("value").combine_chunks()
        if 0 < len(read) <= BREADTH_CODES_MAX:
            found[source] = read
    return found


def _with_codes(rows: ir.Table, dictionaries: Mapping[str, pa.Array]) -> ir.Table:
    """``rows`` with a column ``_<source>_code`` for each column of ``dictionaries``: the
    position of the row's value in that column's values, 1 to ``n`` (null for a null
    value).

    Why: DuckDB's distinct counts per customer (``n_products``, ``n_categories``) hash
    every (customer, value) pair of the 10M-row benchmark, 3 of the 4 s of the main
    aggregation; a bit per code, OR-ed into machine words per customer whose set bits
    are counted (:func:`_distinct_codes`), gives the same counts (every non-null value
    has exactly one code, the dictionary being read from all the rows) at a fraction of
    that (10M rows, 163 products, 7 categories: the figures are in the module's
    docstring and in :func:`_distinct_codes`'s).

    The code is a scalar of each row (a search of the constant list), not a join with
    the dictionary: a hash join emits its rows in another order than it reads them,
    and the window spends, sums of doubles, must add each customer's amounts in the
    order the distinct counts' plan does to come out to the same bits.
    """
    for source, values in dictionaries.items():
        listed = ibis.literal(values.to_pylist(), type="array<string>")
        # BIGINT codes: shifted in a BIGINT word by _distinct_codes
        code = _list_position(listed, rows[source]).cast("int64")
        rows = rows.mutate(**{_code_column(source): code})
    return rows


def _gap_spread(rows: ir.Table, *, as_of: datetime.date, periods: tuple[int, ...] = ()) -> ir.Table:
    """Per customer: the number of gaps between purchase days (one fewer than the
    purchase days) and their sample std; and for each ``w`` of ``periods`` the purchase
    days in the last ``w`` days up to ``as_of`` (``periods_recent_w``): the rows that
    open a purchase day (the first row, whose lag is null, and those with a gap) in
    that window.

    The lag runs over every purchase row, not over the distinct purchase days: in day
    order, the rows of a day after its first have a gap of 0 and the first row of each
    later day the gap to the day before, so the gaps above 0 are the gaps between
    consecutive purchase days, in the same order (the std adds them up in the order the
    distinct days gave). The distinct was a hash of nearly every row (10M rows: 9.7M
    purchase rows, 9.4M customer-days), 3.9 of the query's 12 CPU-s.
    """
    bought = rows.filter(rows.amount >= 0).select("customer_id", "day")
    order = ibis.window(group_by=bought.customer_id, order_by=bought.day)
    gaps = bought.mutate(gap=bought.day.delta(bought.day.lag().over(order), unit="day"))
    gap = gaps.gap.cast("float64")
    between_days = gaps.gap > 0
    metrics: dict[str, ir.Value] = {
        "n_gaps": gap.count(where=between_days),
        "gap_std": gap.std(how="sample", where=between_days),
    }
    opens_day = between_days.fill_null(True)
    for w in periods:
        start = ibis.literal(as_of - datetime.timedelta(days=w), type="date")
        metrics[f"periods_recent_{w}"] = gaps.count(where=opens_day & (gaps.day > start))
    return gaps.group_by(gap_customer_id=gaps.customer_id).aggregate(**metrics)
