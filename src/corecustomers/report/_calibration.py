"""How the alert list is made and how right it was, and whether the models' numbers hold.

Two parts, both read from ``summary.json``'s ``alerts``:

* :func:`alert_blocks` -- for the early-warnings section: the churn risk and the
  threshold (``alerts.risk``, ``alerts.choice``), and with a holdout
  (``alerts.evaluation``) the list against the baselines at the same size and the
  ranking figures of the risk score.
* :func:`calibration_section` -- the calibration charts: the churn risk by decile against
  the observed share with no purchase, P(alive) by decile against holdout activity, and
  predicted against actual holdout purchases by decile of predicted value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from corecustomers.report import _inputs as inputs
from corecustomers.report import _svg as s
from corecustomers.report._charts import Chart
from corecustomers.report._labels import Words
from corecustomers.report._numbers import NumberFormat, as_float, tick_decimals
from corecustomers.report._view import Block, Cell, Column, Note, Section, Table

__all__ = ["alert_blocks", "calibration_section"]

_BASELINES = (("p_alive", "eval.p_alive"), ("recency", "eval.recency"), ("rules", "eval.rules"))
_RANKINGS = (
    ("risk", "eval.risk"),
    ("one_minus_p_alive", "eval.p_alive"),
    ("days_since_last_purchase", "eval.recency"),
)


def alert_blocks(alerts: Mapping[str, Any], words: Words, fmt: NumberFormat) -> list[Block]:
    """How the list is made, then (with a holdout) how right it was against the baselines."""
    blocks: list[Block] = []
    risk = inputs.mapping(alerts.get("risk"))
    choice = inputs.mapping(alerts.get("choice"))
    if risk:
        blocks.append(
            Note(
                words(
                    "eval.how",
                    window=fmt.integer(risk.get("window_days")),
                    threshold=fmt.decimal(choice.get("min_risk"), 2)
                    if choice.get("min_risk") is not None
                    else "—",
                    share=fmt.percent(alerts.get("max_share_of_core")),
                    budget=fmt.integer(alerts.get("budget")),
                    idle=fmt.integer(alerts.get("min_idle_days")),
                )
                + " "
                + words(f"eval.score.{risk.get('method')}", score=str(risk.get("score", "")))
            )
        )
    evaluation = inputs.mapping(alerts.get("evaluation"))
    if not evaluation:
        return blocks
    own = inputs.mapping(evaluation.get("alerts"))
    baselines = inputs.mapping(evaluation.get("baselines"))
    rows = [_list_row(words("eval.list"), own, fmt, strong=True)]
    for key, label in _BASELINES:
        figures = inputs.mapping(baselines.get(key))
        if figures:
            rows.append(_list_row(words(label), figures, fmt))
    blocks.append(
        Table(
            (
                Column(words("eval.col.list")),
                Column(words("eval.col.n"), "num"),
                Column(words("eval.col.precision"), "num"),
                Column(words("eval.col.recall"), "num"),
                Column(words("eval.col.value"), "num"),
            ),
            tuple(rows),
            title=words("eval.list_title"),
            note=words("eval.list_note", base=fmt.percent(evaluation.get("core_inactive_share"))),
            key="alert-evaluation",
        )
    )
    ranking = inputs.mapping(evaluation.get("ranking"))
    ranked_rows = []
    for key, label in _RANKINGS:
        figures = inputs.mapping(ranking.get(key))
        if figures:
            ranked_rows.append(
                (
                    Cell(words(label), strong=key == "risk"),
                    Cell(fmt.decimal(figures.get("auc"), 3)),
                    Cell(fmt.decimal(figures.get("average_precision"), 3)),
                )
            )
    if ranked_rows:
        blocks.append(
            Table(
                (
                    Column(words("eval.col.score")),
                    Column(words("eval.col.auc"), "num"),
                    Column(words("eval.col.ap"), "num"),
                ),
                tuple(ranked_rows),
                title=words("eval.ranking_title"),
                wide=False,
                key="risk-ranking",
            )
        )
    better = evaluation.get("at_least_best_baseline")
    if better is not None:
        blocks.append(
            Note(
                words(
                    "eval.verdict.good" if better else "eval.verdict.bad",
                    own=fmt.percent(own.get("precision")),
                    best=fmt.percent(evaluation.get("best_baseline_precision")),
                ),
                tone="ok" if better else "info",
            )
        )
    return blocks


def _list_row(
    label: str, figures: Mapping[str, Any], fmt: NumberFormat, *, strong: bool = False
) -> tuple[Cell, ...]:
    return (
        Cell(label, strong=strong),
        Cell(fmt.integer(figures.get("n"))),
        Cell(fmt.percent(figures.get("precision"))),
        Cell(fmt.percent(figures.get("recall"))),
        Cell(fmt.percent(figures.get("value_coverage"))),
    )


def calibration_section(
    summary: Mapping[str, Any], words: Words, fmt: NumberFormat
) -> Section | None:
    """Can the numbers be trusted on this data? Three charts by decile, with a holdout."""
    evaluation = inputs.mapping(inputs.mapping(summary.get("alerts")).get("evaluation"))
    if not evaluation:
        return None
    blocks: list[Block] = []
    risk = inputs.mapping(evaluation.get("calibration"))
    deciles = _rows(risk.get("deciles"))
    if deciles:
        blocks.append(
            _decile_chart(
                "calibration-risk",
                words("cal.risk_title", days=fmt.integer(risk.get("window_days"))),
                [as_float(r.get("predicted")) for r in deciles],
                [as_float(r.get("observed")) for r in deciles],
                words("cal.predicted_risk"),
                words("cal.observed_inactive"),
                words,
                fmt,
                share=True,
            )
        )
        gap = as_float(risk.get("max_gap"))
        if gap is not None:
            blocks.append(
                Note(
                    words("cal.risk_gap", gap=fmt.decimal(gap, 3)),
                    tone="ok" if gap <= 0.1 else "info",
                    wide=False,
                )
            )
    models = inputs.mapping(evaluation.get("value_models"))
    alive = _rows(models.get("p_alive"))
    if alive:
        blocks.append(
            _decile_chart(
                "calibration-p-alive",
                words("cal.p_alive_title"),
                [as_float(r.get("predicted")) for r in alive],
                [as_float(r.get("observed")) for r in alive],
                words("cal.p_alive"),
                words("cal.active"),
                words,
                fmt,
                share=True,
            )
        )
    purchases = _rows(models.get("purchases"))
    if purchases:
        blocks.append(
            _decile_chart(
                "calibration-purchases",
                words("cal.purchases_title", days=fmt.integer(models.get("holdout_days"))),
                [as_float(r.get("predicted")) for r in purchases],
                [as_float(r.get("actual")) for r in purchases],
                words("cal.predicted_purchases"),
                words("cal.actual_purchases"),
                words,
                fmt,
                share=False,
            )
        )
    if not blocks:
        return None
    return Section("calibration", words("sec.calibration"), words("cal.intro"), tuple(blocks))


def _rows(value: object) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _decile_chart(
    key: str,
    title: str,
    predicted: Sequence[float | None],
    observed: Sequence[float | None],
    predicted_label: str,
    observed_label: str,
    words: Words,
    fmt: NumberFormat,
    *,
    share: bool,
) -> Chart:
    """Predicted (dashed) and observed (solid) by decile of the prediction, 1 to 10."""
    width, height = 520.0, 320.0
    left, right, top, bottom = 64.0, 20.0, 16.0, 84.0
    n = len(predicted)
    known = [v for v in (*predicted, *observed) if v is not None]
    hi = 1.0 if share else max([*known, 1e-9])
    ticks = s.nice_ticks(0.0, hi, 5)
    y = s.Scale(0.0, ticks[-1], height - bottom, top)
    x = s.Scale(0, max(n - 1, 1), left, width - right)
    decimals = tick_decimals(ticks[1] - ticks[0]) if len(ticks) > 1 else 0

    def value_text(v: float) -> str:
        return fmt.percent(v) if share else fmt.decimal(v, max(decimals, 2))

    parts: list[str] = []
    for tick in ticks:
        parts.append(s.line(left, y(tick), width - right, y(tick), stroke=s.GRID))
        label = fmt.percent(tick) if share else fmt.decimal(tick, decimals)
        parts.append(s.text(left - 8, y(tick), label, anchor="end", baseline="middle"))
    for i in range(n):
        parts.append(s.text(x(i), height - bottom + 20, str(i + 1), anchor="middle"))
    parts.append(
        s.text(
            (left + width - right) / 2, height - bottom + 44, words("cal.decile"), anchor="middle"
        )
    )
    series = (
        (predicted_label, predicted, s.ACCENT, "6 4"),
        (observed_label, observed, s.PRIMARY, None),
    )
    for label, values, colour, dash in series:
        points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            parts.append(s.polyline(points, stroke=colour, width=2.2, dash=dash))
        for i, v in enumerate(values):
            if v is not None:
                tip = words("cal.point", decile=i + 1, label=label, value=value_text(v))
                parts.append(s.circle(x(i), y(v), 3.0, fill=colour, stroke="none", tooltip=tip))
    legend_y = height - 14
    for j, (label, _, colour, dash) in enumerate(series):
        lx = left + j * 220
        parts.append(s.line(lx, legend_y, lx + 24, legend_y, stroke=colour, width=2.2, dash=dash))
        parts.append(s.text(lx + 30, legend_y, label, baseline="middle"))
    return Chart(key, title, s.svg(width, height, title, *parts))
