"""Turn the analysis summary and the scored customers into the report's sections.

Each section function reads what it needs from ``summary`` (tolerating absent optional
keys) or from the customers table, formats it in the report language and returns a
:class:`~corecustomers.report._view.Section`, or ``None`` when an optional section has
nothing to show. This module holds the descriptive sections; the predictive ones are in
``_prediction``, the core-customer ones (tiers, early warnings, actions, recommendations,
capture) in ``_core``, tier migration in ``_migration`` and data quality in ``_quality``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corecustomers import __version__
from corecustomers.report import _charts as charts
from corecustomers.report import _inputs as inputs
from corecustomers.report._calibration import calibration_section
from corecustomers.report._core import tier_names, tiers_section
from corecustomers.report._core_actions import actions_section
from corecustomers.report._core_alerts import alerts_section
from corecustomers.report._core_capture import capture_section
from corecustomers.report._core_recommendations import recommendations_section
from corecustomers.report._labels import HTML_LANG, Words
from corecustomers.report._migration import migration_section
from corecustomers.report._numbers import MISSING, NumberFormat, as_float
from corecustomers.report._prediction import clv_section, holdout_section, models_section
from corecustomers.report._quality import quality_section, settings_section
from corecustomers.report._view import (
    Cell,
    Column,
    Kpi,
    Kpis,
    Note,
    Report,
    Section,
    Table,
    Tone,
)
from corecustomers.units import Lang

TOP_CUSTOMERS: Final = 20
PARETO_POINTS: Final = 201


def build_report(
    summary: Mapping[str, Any],
    customers: pa.Table,
    lang: Lang,
    quarantine: Sequence[Mapping[str, Any]],
) -> Report:
    """The whole report as plain objects for the template."""
    inputs.check_columns(customers)
    words = Words(lang)
    fmt = NumberFormat(currency=str(summary.get("currency") or ""))
    unit = inputs.unit(summary, words)
    tiers = tier_names(summary, customers, words)
    candidates = (
        _overview(summary, words, fmt),
        _concentration(summary, customers, words, fmt),
        _segments(summary, words, fmt),
        _rf_grid(customers, words, fmt),
        _abc(summary, words, fmt),
        _top_customers(summary, customers, words, fmt),
        clv_section(summary, customers, words, fmt),
        tiers_section(summary, customers, tiers, words, fmt),
        migration_section(summary, tiers, words, fmt),
        alerts_section(summary, customers, tiers, words, fmt),
        actions_section(summary, customers, tiers, words, fmt),
        recommendations_section(summary, words, fmt),
        models_section(summary, words, fmt),
        holdout_section(summary, unit, words, fmt),
        calibration_section(summary, words, fmt),
        capture_section(summary, words, fmt),
        quality_section(summary, quarantine, words, fmt),
        settings_section(summary, words),
    )
    meta = [
        (words("source"), str(summary.get("source") or MISSING)),
        (words("as_of"), str(summary.get("as_of") or MISSING)),
    ]
    if summary.get("calibration_end"):
        meta.append((words("calibration_end"), str(summary["calibration_end"])))
    meta.append((words("time_unit"), unit[:1].upper() + unit[1:]))
    if summary.get("generated_at"):
        # ISO 8601 from the service: "2024-07-01T08:30:00+00:00" -> "2024-07-01 08:30 UTC".
        stamp = str(summary["generated_at"])
        shown = stamp[:16].replace("T", " ")
        meta.append((words("generated_at"), shown + (" UTC" if stamp.endswith("+00:00") else "")))
    return Report(
        html_lang=HTML_LANG[lang],
        page_title=f"{words('title')} · {summary.get('as_of') or MISSING}",
        title=words("title"),
        subtitle=words("subtitle"),
        meta=tuple(meta),
        sections=tuple(section for section in candidates if section is not None),
        contents_label=words("contents"),
        footer=words("generated_by", version=__version__),
    )


def _overview(summary: Mapping[str, Any], words: Words, fmt: NumberFormat) -> Section:
    concentration = inputs.mapping(summary.get("concentration"))
    read = summary.get("rows_read")
    quarantined = summary.get("rows_quarantined")
    share_q = inputs.share(quarantined, read)
    cards = Kpis(
        (
            Kpi(words("kpi.customers"), fmt.integer(summary.get("customers")), emphasis=True),
            Kpi(words("kpi.revenue"), fmt.money(summary.get("revenue")), emphasis=True),
            Kpi(
                words("kpi.top20"),
                fmt.percent(concentration.get("top_20pct_share")),
                words("kpi.top20_note"),
            ),
            Kpi(
                words("kpi.gini"),
                fmt.decimal(concentration.get("gini"), 2),
                words("kpi.gini_note"),
            ),
            Kpi(words("as_of"), str(summary.get("as_of") or MISSING)),
            Kpi(words("kpi.rows_read"), fmt.integer(read)),
            Kpi(words("kpi.rows_accepted"), fmt.integer(summary.get("rows_accepted"))),
            Kpi(
                words("kpi.rows_quarantined"),
                fmt.integer(quarantined),
                words("kpi.of_read", share=fmt.percent(share_q, 2)) if share_q else "",
            ),
        )
    )
    return Section("overview", words("sec.overview"), blocks=(cards,))


def _pareto_curve(points: object) -> list[tuple[float, float]]:
    """The Pareto form (largest customers first, concave) of a Lorenz curve.

    ``points`` may be the classic Lorenz curve (smallest first, below the diagonal) or the
    Pareto form already; the side of the diagonal tells which. The curve is resampled on
    :data:`PARETO_POINTS` evenly spaced customer shares.
    """
    try:
        xy = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        return []
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        return []
    xy = np.clip(xy[np.isfinite(xy).all(axis=1)], 0.0, 1.0)
    if len(xy) == 0:
        return []
    xy = xy[np.argsort(xy[:, 0], kind="stable")]
    x, y = xy[:, 0], xy[:, 1]
    if x[0] > 0:
        x, y = np.r_[0.0, x], np.r_[0.0, y]
    if x[-1] < 1:
        x, y = np.r_[x, 1.0], np.r_[y, 1.0]
    grid = np.linspace(0.0, 1.0, PARETO_POINTS)
    if float(np.mean(y - x)) < 0:
        curve = 1.0 - np.interp(1.0 - grid, x, y)
    else:
        curve = np.interp(grid, x, y)
    return [(float(g), float(c)) for g, c in zip(grid, curve, strict=True)]


def _pareto_from_spend(customers: pa.Table) -> list[tuple[float, float]]:
    spend = inputs.floats(customers, "total_spend")
    spend = np.sort(spend[np.isfinite(spend)])[::-1]
    total = float(spend.sum()) if len(spend) else 0.0
    if total <= 0:
        return []
    x = np.arange(len(spend) + 1) / len(spend)
    y = np.r_[0.0, np.cumsum(spend) / total]
    return _pareto_curve(np.column_stack([x, y]))


def _concentration(
    summary: Mapping[str, Any], customers: pa.Table, words: Words, fmt: NumberFormat
) -> Section:
    concentration = inputs.mapping(summary.get("concentration"))
    curve = _pareto_curve(concentration.get("lorenz")) or _pareto_from_spend(customers)
    top20 = as_float(concentration.get("top_20pct_share"))
    if top20 is None and curve:
        top20 = curve[round(0.2 * (PARETO_POINTS - 1))][1]
    chart = charts.lorenz(curve, top20, words, fmt)
    note = words("conc.share_of_revenue")
    one_time = concentration.get("one_time_buyers")
    stats = Kpis(
        (
            Kpi(words("conc.top1"), fmt.percent(concentration.get("top_1pct_share")), note),
            Kpi(words("conc.top10"), fmt.percent(concentration.get("top_10pct_share")), note),
            Kpi(words("conc.top20"), fmt.percent(top20), note),
            Kpi(words("conc.gini"), fmt.decimal(concentration.get("gini"), 2)),
            Kpi(
                words("conc.one_time"),
                fmt.percent(concentration.get("one_time_buyer_share")),
                _one_time_note(concentration, words, fmt) if one_time is not None else "",
            ),
        ),
        layout="list",
        wide=False,
    )
    return Section("concentration", words("sec.concentration"), words("conc.intro"), (chart, stats))


def _one_time_note(concentration: Mapping[str, Any], words: Words, fmt: NumberFormat) -> str:
    note = words(
        "conc.one_time_note",
        count=fmt.integer(concentration.get("one_time_buyers")),
        share=fmt.percent(concentration.get("one_time_buyer_share")),
    )
    revenue_share = concentration.get("one_time_revenue_share")
    if as_float(revenue_share) is not None:
        note += " · " + words("conc.one_time_revenue", share=fmt.percent(revenue_share))
    return note


def _segments(summary: Mapping[str, Any], words: Words, fmt: NumberFormat) -> Section:
    segments = inputs.mapping(summary.get("segments"))
    rows = inputs.rows(segments.get("table"))
    scheme = str(segments.get("scheme") or MISSING)
    intro = words(
        "seg.intro",
        scheme=words(f"scheme.{scheme}")
        if scheme in ("named", "cn8")
        else words("scheme.other", name=scheme),
    )
    if not rows:
        return Section("segments", words("sec.segments"), intro, (Note(words("not_available")),))
    total_customers = sum(as_float(r.get("customers")) or 0.0 for r in rows)
    total_revenue = sum(as_float(r.get("revenue")) or 0.0 for r in rows)

    def shares(row: Mapping[str, Any]) -> tuple[float, float]:
        customers = as_float(row.get("share_customers"))
        revenue = as_float(row.get("share_revenue"))
        if customers is None:
            customers = inputs.share(row.get("customers"), total_customers) or 0.0
        if revenue is None:
            revenue = inputs.share(row.get("revenue"), total_revenue) or 0.0
        return customers, revenue

    bars = []
    table_rows = []
    for row in rows:  # in the scheme's order, best segments first
        label = _segment_label(row)
        share_c, share_r = shares(row)
        bars.append(
            charts.Bar(
                label,
                share_c,
                share_r,
                f"{fmt.integer(row.get('customers'))} {words('col.customers')}",
                f"{words('col.revenue')} {fmt.money(row.get('revenue'))}",
            )
        )
        table_rows.append(
            (
                Cell(label),
                Cell(fmt.integer(row.get("customers"))),
                Cell(fmt.percent(share_c)),
                Cell(fmt.money(row.get("revenue"), 2)),
                Cell(fmt.percent(share_r)),
                Cell(fmt.money(inputs.share(row.get("revenue"), row.get("customers")), 2)),
            )
        )
    table = Table(
        (
            Column(words("col.segment")),
            Column(words("col.customers"), "num"),
            Column(words("col.share_customers"), "num"),
            Column(words("col.revenue"), "num"),
            Column(words("col.share_revenue"), "num"),
            Column(words("col.revenue_per_customer"), "num"),
        ),
        tuple(table_rows),
        footer=(
            Cell(words("total")),
            Cell(fmt.integer(total_customers)),
            Cell(fmt.percent(1.0 if total_customers else None)),
            Cell(fmt.money(total_revenue, 2)),
            Cell(fmt.percent(1.0 if total_revenue else None)),
            Cell(fmt.money(inputs.share(total_revenue, total_customers), 2)),
        ),
        key="segments",
    )
    return Section(
        "segments", words("sec.segments"), intro, (charts.segments(bars, words, fmt), table)
    )


def _segment_label(row: Mapping[str, Any]) -> str:
    return str(row.get("label") or row.get("segment") or MISSING)


def _score_range(scores: np.ndarray[Any, np.dtype[np.float64]]) -> list[int]:
    values = np.unique(scores.astype(np.int64))
    if len(values) == 0:
        return [1, 2, 3, 4, 5]
    lo, hi = int(values[0]), int(values[-1])
    start = 1 if lo >= 1 else lo
    return list(range(start, hi + 1)) if hi - start < 20 else [int(v) for v in values]


def _high_from(values: Sequence[int]) -> int:
    """The lowest score that counts as high: the upper half of the scale (4 on 1..5)."""
    return values[(len(values) + 1) // 2] if len(values) > 1 else values[0]


def _rf_grid(customers: pa.Table, words: Words, fmt: NumberFormat) -> Section:
    r = inputs.floats(customers, "r_score")
    f = inputs.floats(customers, "f_score")
    m = inputs.floats(customers, "monetary_value")
    spend = inputs.floats(customers, "total_spend")
    # One-time buyers have no repeat order, so their monetary_value (0 by the lifetimes
    # convention) is not an observation: they are counted in the cells, not averaged.
    m = np.where(inputs.floats(customers, "frequency") > 0, m, np.nan)
    scored = np.isfinite(r) & np.isfinite(f)
    r, f, m, spend = np.rint(r[scored]), np.rint(f[scored]), m[scored], spend[scored]
    r_values, f_values = _score_range(r), _score_range(f)
    # Every observed score is in its range, so searchsorted finds its exact position.
    ri = np.searchsorted(np.asarray(r_values, dtype=np.float64), r)
    fi = np.searchsorted(np.asarray(f_values, dtype=np.float64), f)
    size = len(r_values) * len(f_values)
    flat = ri * len(f_values) + fi
    counts = np.bincount(flat, minlength=size)
    valued = np.isfinite(m)
    sums = np.bincount(flat[valued], weights=m[valued], minlength=size)
    valued_counts = np.bincount(flat[valued], minlength=size)
    cells = []
    for i, rv in enumerate(r_values):
        for j, fv in enumerate(f_values):
            k = i * len(f_values) + j
            mean = float(sums[k] / valued_counts[k]) if valued_counts[k] else None
            cells.append(charts.HeatCell(rv, fv, int(counts[k]), mean))
    chart = charts.rf_heatmap(cells, r_values, f_values, words, fmt)
    return Section(
        "rfm",
        words("sec.rfm"),
        words("rfm.intro"),
        (chart, _quadrants(r, f, spend, r_values, f_values, words, fmt)),
    )


def _quadrants(
    r: np.ndarray[Any, np.dtype[np.float64]],
    f: np.ndarray[Any, np.dtype[np.float64]],
    spend: np.ndarray[Any, np.dtype[np.float64]],
    r_values: Sequence[int],
    f_values: Sequence[int],
    words: Words,
    fmt: NumberFormat,
) -> Kpis:
    """Customers and revenue share in the four R × F quadrants (high = upper half)."""
    r_high, f_high = _high_from(r_values), _high_from(f_values)
    revenue = float(np.nansum(spend))
    items = []
    for key, recent, frequent in (
        ("rf.q.core", True, True),
        ("rf.q.slipping", False, True),
        ("rf.q.new", True, False),
        ("rf.q.lost", False, False),
    ):
        mask = ((r >= r_high) == recent) & ((f >= f_high) == frequent)
        rule = f"R {'≥' if recent else '<'} {r_high}, F {'≥' if frequent else '<'} {f_high}"
        share = inputs.share(float(np.nansum(spend[mask])), revenue)
        items.append(
            Kpi(
                words(key),
                fmt.integer(int(mask.sum())),
                words("rf.q.note", rule=rule, share=fmt.percent(share)),
            )
        )
    return Kpis(tuple(items), layout="list", title=words("rf.quadrants"), wide=False)


def _abc(summary: Mapping[str, Any], words: Words, fmt: NumberFormat) -> Section:
    abc = inputs.mapping(summary.get("abc"))
    thresholds = inputs.mapping(abc.get("thresholds"))
    value = "margin" if abc.get("value") == "margin" else "revenue"
    intro = words(
        "abc.intro",
        a=fmt.percent(thresholds.get("A", 0.8), 0),
        b=fmt.percent(thresholds.get("B", 0.95), 0),
        value=words(f"value.{value}"),
    )
    rows = sorted(inputs.rows(abc.get("table")), key=lambda r: str(r.get("class")))
    if not rows:
        return Section("abc", words("sec.abc"), intro, (Note(words("not_available")),))
    bars = []
    table_rows = []
    for row in rows:
        name = str(row.get("class") or MISSING)
        bars.append(
            charts.Bar(
                name,
                as_float(row.get("share_customers")) or 0.0,
                as_float(row.get("share_revenue")) or 0.0,
                fmt.integer(row.get("customers")),
                fmt.money(row.get("revenue")),
            )
        )
        table_rows.append(
            (
                Cell(name, _tone(name)),
                Cell(words(f"abc.{name}") if name in ("A", "B", "C") else MISSING),
                Cell(fmt.integer(row.get("customers"))),
                Cell(fmt.percent(row.get("share_customers"))),
                Cell(fmt.money(row.get("revenue"), 2)),
                Cell(fmt.percent(row.get("share_revenue"))),
            )
        )
    table = Table(
        (
            Column(words("col.class"), "badge"),
            Column(words("col.meaning")),
            Column(words("col.customers"), "num"),
            Column(words("col.share_customers"), "num"),
            Column(words(f"col.{value}"), "num"),
            Column(words(f"col.share_{value}"), "num"),
        ),
        tuple(table_rows),
        key="abc",
    )
    return Section("abc", words("sec.abc"), intro, (charts.abc(bars, value, words, fmt), table))


_TONES: Final[Mapping[str, Tone]] = {"a": "a", "b": "b", "c": "c"}


def _tone(abc_class: object) -> Tone:
    """The badge colour of an ABC class; anything unexpected is neutral."""
    return _TONES.get(str(abc_class).strip().lower(), "neutral")


def _top_customers(
    summary: Mapping[str, Any], customers: pa.Table, words: Words, fmt: NumberFormat
) -> Section:
    labels = {
        str(row.get("segment")): _segment_label(row)
        for row in inputs.rows(inputs.mapping(summary.get("segments")).get("table"))
    }
    # the first TOP_CUSTOMERS in the full sort's order (ids are unique: no ties left),
    # without sorting a million rows; nulls last, as the sort puts them
    keys = customers.select(["total_spend", "customer_id"])
    order = pc.select_k_unstable(
        keys,
        k=min(TOP_CUSTOMERS, customers.num_rows),
        sort_keys=[("total_spend", "descending"), ("customer_id", "ascending")],
    )
    top = customers.take(order).to_pylist()
    optional = [
        name for name in ("p_alive", "expected_purchases", "clv") if name in customers.column_names
    ]
    columns = [
        Column(words("col.rank"), "num"),
        Column(words("col.customer_id"), "id"),
        Column(words("col.total_spend"), "num"),
        Column(words("col.frequency"), "num"),
        Column(words("col.monetary_value"), "num"),
        Column(words("col.days_since"), "num"),
        Column(words("col.r"), "score"),
        Column(words("col.f"), "score"),
        Column(words("col.m"), "score"),
        Column(words("col.segment")),
        Column(words("col.class"), "badge"),
        *(Column(words(f"col.{name}"), "num") for name in optional),
    ]
    rows = []
    for rank, row in enumerate(top, start=1):
        segment = row.get("rfm_segment")
        abc_class = row.get("abc_class")
        cells = [
            Cell(str(rank)),
            Cell(str(row.get("customer_id"))),
            Cell(fmt.money(row.get("total_spend"), 2)),
            Cell(fmt.integer(row.get("frequency"))),
            Cell(fmt.money(row.get("monetary_value"), 2)),
            Cell(fmt.integer(row.get("days_since_last_purchase"))),
            Cell(fmt.integer(row.get("r_score"))),
            Cell(fmt.integer(row.get("f_score"))),
            Cell(fmt.integer(row.get("m_score"))),
            Cell(labels.get(str(segment), str(segment)) if segment is not None else MISSING),
            Cell(str(abc_class), _tone(abc_class)) if abc_class is not None else Cell(MISSING),
        ]
        for name in optional:
            value = row.get(name)
            if name == "p_alive":
                cells.append(Cell(fmt.percent(value)))
            elif name == "clv":
                cells.append(Cell(fmt.money(value, 2)))
            else:
                cells.append(Cell(fmt.decimal(value, 2)))
        rows.append(tuple(cells))
    shown = min(TOP_CUSTOMERS, customers.num_rows)
    block: Table | Note = (
        Table(tuple(columns), tuple(rows), key="top-customers")
        if rows
        else Note(words("not_available"))
    )
    return Section("top-customers", words("sec.top"), words("top.intro", n=shown), (block,))
