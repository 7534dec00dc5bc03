"""The predictive sections: customer lifetime value, fitted models, holdout validation.

Each appears only when its input exists: ``clv`` when the customers table has a ``clv``
column, ``models`` and ``holdout`` when the summary has those keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa

from corecustomers.report import _charts as charts
from corecustomers.report import _inputs as inputs
from corecustomers.report._labels import Words
from corecustomers.report._numbers import MISSING, NumberFormat, as_float, tick_decimals
from corecustomers.report._svg import nice_ticks
from corecustomers.report._view import Cell, Column, Kpi, Kpis, Note, Section, Table

CLV_BINS: Final = 24


def clv_section(customers: pa.Table, words: Words, fmt: NumberFormat) -> Section | None:
    if "clv" not in customers.column_names:
        return None
    values = inputs.floats(customers, "clv")
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return Section("clv", words("sec.clv"), words("clv.intro"), (Note(words("not_available")),))
    ranked = np.sort(values)[::-1]
    total = float(ranked.sum())
    top_n = max(1, math.ceil(0.2 * len(ranked)))
    kpis = Kpis(
        (
            Kpi(words("clv.total"), fmt.money(total)),
            Kpi(words("clv.mean"), fmt.money(float(values.mean()))),
            Kpi(words("clv.median"), fmt.money(float(np.median(values)))),
            Kpi(words("clv.p90"), fmt.money(float(np.quantile(values, 0.9)))),
            Kpi(words("clv.top20"), fmt.percent(inputs.share(float(ranked[:top_n].sum()), total))),
        ),
        layout="list",
        wide=False,
    )
    lo = min(0.0, float(values.min()))
    hi = float(np.quantile(values, 0.99))
    if hi <= lo:
        hi = float(values.max()) if values.max() > lo else lo + 1.0
    edges = nice_ticks(lo, hi, CLV_BINS)
    overflow = int(np.count_nonzero(values > edges[-1]))
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=np.asarray(edges))
    chart = charts.histogram(edges, [int(c) for c in counts], "clv", words, fmt)
    if overflow:
        chart = charts.Chart(
            chart.key,
            chart.title,
            chart.svg,
            caption=words(
                "clv.overflow",
                count=fmt.integer(overflow),
                limit=fmt.money(edges[-1], tick_decimals(edges[1] - edges[0])),
            ),
        )
    return Section("clv", words("sec.clv"), words("clv.intro"), (chart, kpis))


def models_section(summary: Mapping[str, Any], words: Words, fmt: NumberFormat) -> Section | None:
    if "models" not in summary:
        return None
    blocks: list[Table | Note] = []
    for role, model in inputs.mapping(summary.get("models")).items():
        if not isinstance(model, Mapping):
            continue
        role_key = f"model.{role}"
        role_name = words(role_key) if role_key in _MODEL_ROLES else str(role)
        params = inputs.mapping(model.get("params"))
        errors = inputs.mapping(model.get("standard_errors"))
        rows = tuple(
            (Cell(str(name)), Cell(fmt.significant(value)), Cell(fmt.significant(errors.get(name))))
            for name, value in params.items()
        )
        notes = [f"{words('model.log_likelihood')}: {fmt.decimal(model.get('log_likelihood'), 2)}"]
        notes += [
            f"{key}: {_scalar(value, fmt)}"
            for key, value in model.items()
            if key not in _MODEL_KEYS and not isinstance(value, Mapping | list | tuple)
        ]
        blocks.append(
            Table(
                (
                    Column(words("col.parameter"), "code"),
                    Column(words("col.estimate"), "num"),
                    Column(words("col.std_error"), "num"),
                ),
                rows,
                title=f"{role_name} · {model.get('model') or MISSING}",
                note=" · ".join(notes),
                wide=False,
                key=f"model-{role}",
            )
        )
    if not blocks:
        blocks.append(Note(words("not_available")))
    return Section("models", words("sec.models"), words("models.intro"), tuple(blocks))


_MODEL_ROLES: Final = frozenset({"model.transaction", "model.spend"})
_MODEL_KEYS: Final = frozenset({"model", "params", "standard_errors", "log_likelihood"})


def _scalar(value: object, fmt: NumberFormat) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return fmt.integer(value)
    if isinstance(value, float):
        return fmt.significant(value, 6)
    return str(value)


def holdout_section(
    summary: Mapping[str, Any], unit: str, words: Words, fmt: NumberFormat
) -> Section | None:
    if "holdout" not in summary:
        return None
    holdout = inputs.mapping(summary.get("holdout"))
    actual = as_float(holdout.get("actual_total"))
    predicted = as_float(holdout.get("predicted_total"))
    error = predicted / actual - 1 if actual and predicted is not None else None
    kpis = Kpis(
        (
            Kpi(words("holdout.actual_total"), fmt.decimal(actual, 0), emphasis=True),
            Kpi(words("holdout.predicted_total"), fmt.decimal(predicted, 0), emphasis=True),
            Kpi(
                words("holdout.error"),
                (("+" if error > 0 else "") + fmt.percent(error)) if error is not None else MISSING,
            ),
            Kpi(words("holdout.mae"), fmt.decimal(holdout.get("mae"), 3)),
            Kpi(words("holdout.rmse"), fmt.decimal(holdout.get("rmse"), 3)),
            Kpi(words("holdout.correlation"), fmt.decimal(holdout.get("correlation"), 3)),
        )
    )
    blocks: list[charts.Chart | Kpis] = [kpis]
    tracking = inputs.mapping(holdout.get("tracking"))
    periods = tracking.get("period")
    series_a = [as_float(v) for v in tracking.get("actual") or []]
    series_p = [as_float(v) for v in tracking.get("predicted") or []]
    if (
        isinstance(periods, Sequence)
        and len(periods) > 0
        and len(periods) == len(series_a) == len(series_p)
    ):
        blocks.append(
            charts.holdout_tracking(
                [str(p) for p in periods],
                [v or 0.0 for v in series_a],
                [v or 0.0 for v in series_p],
                unit,
                words,
                fmt,
            )
        )
    bins = [
        charts.FrequencyBin(
            str(row.get("frequency")),
            int(as_float(row.get("customers")) or 0),
            as_float(row.get("actual")) or 0.0,
            as_float(row.get("predicted")) or 0.0,
        )
        for row in inputs.rows(holdout.get("by_frequency"))
    ]
    if bins:
        blocks.append(charts.holdout_frequency(bins, words, fmt))
    return Section("holdout", words("sec.holdout"), words("holdout.intro"), tuple(blocks))
