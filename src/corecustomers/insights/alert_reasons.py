"""Why a core customer is alerted: the rules, their phrases and the reason columns.

Each rule of :func:`~corecustomers.insights.alerts.early_warnings` (described in
:mod:`corecustomers.insights.alerts`) is a function here that returns, column-wise, which
customers it flags and a phrase for each of them in English and Chinese
(:class:`Phrases`); :func:`reason_columns` joins the phrases of the alerted customers
into ``alert_reason``, ``alert_reason_en`` and ``alert_reason_zh``. The helpers that read
the customer tables into NumPy arrays are here too, shared with the selection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.errors import InputError
from corecustomers.ids import all_distinct
from corecustomers.insights.alert_settings import AlertThresholds
from corecustomers.segments.phrases import (
    StrArray,
    concat,
    fixed,
    general,
    grouped,
    join_present,
    scatter,
)

__all__ = [
    "BEHAVIOUR_NEEDED",
    "REASON_CODES",
    "BoolArray",
    "FloatArray",
    "Phrases",
    "Rhythm",
    "behaviour_arrays",
    "customer_ids",
    "floats",
    "known",
    "overdue_reason",
    "p_alive_drop_reason",
    "positions",
    "positions_in",
    "reason_columns",
    "require",
    "rhythm",
    "rhythm_reason",
    "risk_reason",
    "satisfaction_drop_reason",
    "spend_decline_reason",
]

REASON_CODES: Final = ("p_alive_drop", "overdue", "spend_decline", "satisfaction_drop")
"""The alert reason codes, in the order they are listed in ``alert_reason``."""

BEHAVIOUR_NEEDED: Final = (
    "customer_id",
    "n_purchase_days",
    "days_since_last_purchase",
    "mean_gap_days",
    "overdue_ratio",
    "spend_last_90d",
    "spend_prev_90d",
    "spend_trend",
    "spend_last_365d",
)
"""The columns of the behaviour table the rules read."""

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Phrases:
    """One reason, column-wise: who has it, and its phrases in English and Chinese.

    ``words(at)`` gives the phrases of the customers at the positions ``at`` (where
    ``hit`` holds): only the customers who end up alerted are worded.
    """

    hit: BoolArray
    words: Callable[[NDArray[np.intp]], tuple[StrArray, StrArray]]


@dataclass(frozen=True, slots=True)
class Rhythm:
    """The overdue rule per customer: whether it trips, whether the customer's own rhythm
    was used (else the typical one), days since the last purchase, the usual gap and
    their ratio."""

    hit: BoolArray
    own: BoolArray
    idle: FloatArray
    gap: FloatArray
    ratio: FloatArray


# --- reading the tables --------------------------------------------------------------


def require(table: pa.Table, columns: Sequence[str], what: str) -> None:
    """Raise :class:`~corecustomers.errors.InputError` naming the columns ``table`` lacks."""
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(
            f"the {what} lacks {', '.join(missing)}; compute it with the matching "
            f"corecustomers function (see docs/CONTRACTS.md).",
            column=missing[0],
        )


def customer_ids(table: pa.Table, what: str) -> pa.StringArray:
    """The customer ids of ``table`` as one string array; reject nulls and duplicates."""
    require(table, ("customer_id",), what)
    column = table["customer_id"].cast(pa.string())
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count:
        raise InputError(f"the {what} has missing customer ids", column="customer_id")
    if not all_distinct(column):
        raise InputError(
            f"the {what} repeats customer ids; it must have one row per customer.",
            column="customer_id",
        )
    return column


def positions_in(ids: pa.StringArray, table: pa.Table, what: str) -> NDArray[np.int64]:
    """Index of each of ``ids`` (distinct, from :func:`customer_ids`) in ``table``'s
    customers; -1 when absent.

    A table whose ids are ``ids`` themselves, in the same order (the analysis' tables are
    aligned so), is read as it is: its ids are then distinct too, and neither the check
    nor the lookup of a million strings is needed.
    """
    require(table, ("customer_id",), what)
    column = table["customer_id"]
    if column.type == pa.string() and len(column) == len(ids):
        same = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if same.equals(ids):
            return np.arange(len(ids), dtype=np.int64)
    return positions(ids, customer_ids(table, what))


def positions(ids: pa.StringArray, other: pa.StringArray) -> NDArray[np.int64]:
    """Index of each of ``ids`` in ``other``; -1 when absent."""
    if ids.equals(other):
        return np.arange(len(ids), dtype=np.int64)
    found = pc.index_in(ids, value_set=other)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def floats(column: pa.ChunkedArray | pa.Array, where: NDArray[np.int64]) -> FloatArray:
    """``column`` as float64 at ``where``, NaN for nulls and for position -1."""
    values = np.asarray(
        pc.fill_null(column.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False),
        dtype=np.float64,
    )
    out = np.full(len(where), np.nan)
    present = where >= 0
    out[present] = values[where[present]]
    return out


def known(values: FloatArray, fill: float = np.nan) -> FloatArray:
    """``values`` with NaN replaced by ``fill``; comparisons with NaN are False anyway."""
    return np.where(np.isnan(values), fill, values)


def behaviour_arrays(
    behaviour: pa.Table, ids: pa.StringArray, min_purchase_days: int
) -> dict[str, FloatArray]:
    """The behaviour columns the rules read, at ``ids`` (NaN for absent customers), and
    ``all_mean_gaps``: the mean gaps of every customer of ``behaviour`` with at least
    ``min_purchase_days`` purchase days (for the typical gap)."""
    require(behaviour, BEHAVIOUR_NEEDED, "behaviour table")
    where = positions_in(ids, behaviour, "behaviour table")
    beh = {name: floats(behaviour[name], where) for name in BEHAVIOUR_NEEDED[1:]}
    beh["all_mean_gaps"] = _regular_gaps(behaviour, min_purchase_days)
    return beh


def _regular_gaps(behaviour: pa.Table, min_days: int) -> FloatArray:
    """Mean gaps of every customer of ``behaviour`` with at least ``min_days`` purchase days."""
    everyone = np.arange(behaviour.num_rows)
    days = known(floats(behaviour["n_purchase_days"], everyone), 0.0)
    gaps = floats(behaviour["mean_gap_days"], everyone)
    return gaps[(days >= min_days) & ~np.isnan(gaps)]


def _survey(table: pa.Table, ids: pa.StringArray, what: str) -> FloatArray:
    require(table, ("customer_id", "satisfaction"), what)
    return floats(table["satisfaction"], positions_in(ids, table, what))


# --- the rules -------------------------------------------------------------------------


def rhythm(beh: dict[str, FloatArray], limits: AlertThresholds) -> Rhythm:
    """The overdue rule: hit, own rhythm used, idle days, usual gap and their ratio."""
    days = known(beh["n_purchase_days"], 0.0)
    idle = beh["days_since_last_purchase"]
    own = days >= limits.min_purchase_days
    gap = np.where(own, beh["mean_gap_days"], np.nan)
    ratio = np.where(own, beh["overdue_ratio"], np.nan)
    regular = beh["all_mean_gaps"]
    if limits.typical_gap_fallback and regular.size:
        typical = float(np.median(regular))
        short = ~own & (days >= 1)
        gap = np.where(short, typical, gap)
        ratio = np.where(short, idle / typical, ratio)
    hit = known(ratio) > limits.overdue_ratio
    return Rhythm(hit=hit, own=own, idle=idle, gap=gap, ratio=ratio)


def p_alive_drop_reason(
    scored: pa.Table, ids: pa.StringArray, previous: pa.Table, limits: AlertThresholds
) -> Phrases:
    """(a) P(alive) fell since the previous snapshot (``customer_id, p_alive``)."""
    n = len(ids)
    require(previous, ("customer_id", "p_alive"), "previous snapshot")
    before = floats(previous["p_alive"], positions_in(ids, previous, "previous snapshot"))
    now = floats(scored["p_alive"], np.arange(n))
    hit = known(before - now) > limits.p_alive_drop

    def words(at: NDArray[np.intp]) -> tuple[StrArray, StrArray]:
        b, a = fixed(before[at], 2), fixed(now[at], 2)
        return (
            concat("probability of being active fell from ", b, " to ", a),
            concat("活跃概率从", b, "降至", a),
        )

    return Phrases(hit, words)


def overdue_reason(r: Rhythm) -> Phrases:
    """(b) overdue against the customer's own rhythm, or the typical one."""

    def words(at: NDArray[np.intp]) -> tuple[StrArray, StrArray]:
        days, times, usual = fixed(r.idle[at], 0), fixed(r.ratio[at], 1), fixed(r.gap[at], 0)
        whose = r.own[at].astype(bool)
        en = concat(
            days,
            " days since the last purchase, ",
            times,
            " times the ",
            np.where(whose, "usual", "typical customer's"),
            " gap of ",
            usual,
            " days",
        )
        zh = concat(
            "距上次购买已",
            days,
            "天，是",
            np.where(whose, "平常", "一般客户的"),
            "购买间隔（",
            usual,
            "天）的",
            times,
            "倍",
        )
        return en, zh

    return Phrases(r.hit, words)


def spend_decline_reason(beh: dict[str, FloatArray], limits: AlertThresholds) -> Phrases:
    """(c) spend declining over recent windows."""
    last, prev = beh["spend_last_90d"], beh["spend_prev_90d"]
    trend = beh["spend_trend"]
    prev_known = known(prev)
    hit = (
        (known(trend) < 0)
        & (prev_known > 0)
        & (known(last, np.inf) < limits.spend_drop_share * prev_known)
    )

    def words(at: NDArray[np.intp]) -> tuple[StrArray, StrArray]:
        now_spend, before_spend = grouped(last[at], 2), grouped(prev[at], 2)
        share = fixed(100.0 * last[at] / prev[at], 0)
        en = concat(
            "net spend in the last 90 days ",
            now_spend,
            ", ",
            share,
            " % of the previous 90 days (",
            before_spend,
            "), and falling",
        )
        zh = concat(
            "近90天净消费",
            now_spend,
            "，仅为前90天（",
            before_spend,
            "）的",
            share,
            "%，呈下降趋势",
        )
        return en, zh

    return Phrases(hit, words)


def satisfaction_drop_reason(
    ids: pa.StringArray,
    satisfaction: pa.Table,
    previous_satisfaction: pa.Table,
    limits: AlertThresholds,
) -> Phrases:
    """(d) satisfaction fell between two surveys (``customer_id, satisfaction``)."""
    s_now = _survey(satisfaction, ids, "satisfaction table")
    s_before = _survey(previous_satisfaction, ids, "previous satisfaction table")
    hit = known(s_before - s_now) >= limits.satisfaction_drop

    def words(at: NDArray[np.intp]) -> tuple[StrArray, StrArray]:
        b, a = general(s_before[at]), general(s_now[at])
        return concat("satisfaction fell from ", b, " to ", a), concat("满意度从", b, "降至", a)

    return Phrases(hit, words)


def risk_reason(risk: FloatArray, window_days: int) -> Phrases:
    """The calibrated churn risk, for every customer who has one."""
    hit = ~np.isnan(risk)
    window = str(window_days)

    def words(at: NDArray[np.intp]) -> tuple[StrArray, StrArray]:
        r, share = fixed(risk[at], 2), fixed(100.0 * risk[at], 0)
        return (
            concat("churn risk ", r, " (no purchase in the next ", window, " days)"),
            concat("流失风险", r, "（未来", window, "天内无购买的概率", share, "%）"),
        )

    return Phrases(hit, words)


def rhythm_reason(quiet: BoolArray, r: Rhythm) -> Phrases:
    """The customer's rhythm, for alerted customers whom no rule flagged."""

    def words(at: NDArray[np.intp]) -> tuple[StrArray, StrArray]:
        known_gap = ~np.isnan(r.gap[at])
        days_text = fixed(r.idle[at], 0)
        gap_text = fixed(np.where(known_gap, r.gap[at], 0.0), 0)
        times_text = fixed(np.where(known_gap, r.ratio[at], 0.0), 1)
        en = concat(
            days_text,
            " days since the last purchase",
            np.where(known_gap, concat(", ", times_text, " times the usual gap of "), ""),
            np.where(known_gap, concat(gap_text, " days"), ""),
        )
        zh = concat(
            "距上次购买已",
            days_text,
            "天",
            np.where(known_gap, concat("，是平常购买间隔（", gap_text, "天）的"), ""),
            np.where(known_gap, concat(times_text, "倍"), ""),
        )
        return en, zh

    return Phrases(quiet, words)


# --- the reason columns ----------------------------------------------------------------


def reason_columns(
    alert: BoolArray, reasons: dict[str, Phrases], order: Sequence[str]
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``alert_reason`` (codes) and the English and Chinese sentences, column-wise.

    Each reason's phrase column is null where it does not hold; a sentence joins the
    phrases of the reasons that hold, in ``order``, of the alerted customers.
    """
    tripped = [c for c in order if c in reasons]
    none = pa.scalar(None, pa.string())
    flag = pa.array(alert, pa.bool_())
    if not tripped:
        empty = pa.nulls(len(alert), pa.string())
        return empty, empty, empty
    code_columns = [
        pc.if_else(pa.array(reasons[c].hit & alert, pa.bool_()), pa.scalar(c), none)
        for c in tripped
    ]
    codes = pc.if_else(flag, join_present(code_columns, ","), none)
    n = len(alert)
    worded = {}
    for c in tripped:
        at = np.flatnonzero(reasons[c].hit & alert)
        en, zh = reasons[c].words(at)
        worded[c] = (scatter(n, at, en), scatter(n, at, zh))
    sentences = []
    for head, sep, end, phrases in (
        ("At risk: ", "; ", ".", [worded[c][0] for c in tripped]),
        ("流失预警：", "；", "。", [worded[c][1] for c in tripped]),
    ):
        joined = join_present(phrases, sep)
        text = pc.binary_join_element_wise(head, joined, end, "")
        sentences.append(pc.if_else(flag, pc.fill_null(text, head.rstrip(": ：") + end), none))
    return codes, sentences[0], sentences[1]
