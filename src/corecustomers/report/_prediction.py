"""The predictive sections: customer lifetime value, fitted models, holdout validation.

Each appears only when its input exists: ``clv`` when the customers table has a ``clv``
column, ``models`` and ``holdout`` when the summary has those keys.
"""

from __future__ import annotations

import itertools
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


#: Literature names of the model classes (``to_dict()["model"]`` is the class name).
MODEL_NAMES: Final[Mapping[str, str]] = {
    "BetaGeoModel": "BG/NBD",
    "ModifiedBetaGeoModel": "MBG/NBD",
    "ParetoNBDModel": "Pareto/NBD",
    "BetaGeoBetaBinomModel": "BG/BB",
    "ShiftedBetaGeoModel": "sBG",
    "GammaGammaModel": "Gamma-Gamma",
}
#: Entries of ``summary["models"]`` that are not fitted models.
_NOT_MODELS: Final = frozenset({"selection", "clv"})
_MODEL_ROLES: Final = frozenset({"transaction", "spend"})
#: Keys of a fitted model shown in its table, or not at all; the rest are listed as notes.
_SHOWN: Final = frozenset(
    {"model", "params", "standard_errors", "log_likelihood", "hyper_parameters", "covariance"}
)
_NOTE_LABELS: Final = frozenset(
    {"n_customers", "converged", "n_repeat_customers", "spend_frequency_correlation"}
)


def model_name(value: object) -> str:
    """``"BetaGeoModel"`` -> ``"BG/NBD"``; unknown names unchanged."""
    name = str(value) if value else MISSING
    return MODEL_NAMES.get(name, name)


def clv_section(
    summary: Mapping[str, Any], customers: pa.Table, words: Words, fmt: NumberFormat
) -> Section | None:
    """Distribution and key figures of ``clv``; only when the customers have that column."""
    if "clv" not in customers.column_names:
        return None
    values = inputs.floats(customers, "clv")
    values = values[np.isfinite(values)]
    intro = words("clv.intro")
    basis = inputs.mapping(inputs.mapping(summary.get("models")).get("clv"))
    if basis.get("horizon_months") is not None:
        intro += ("" if words.lang == "zh" else " ") + words(
            "clv.basis",
            months=fmt.integer(basis.get("horizon_months")),
            rate=fmt.percent(basis.get("annual_discount_rate")),
            margin=fmt.percent(basis.get("margin", 1.0), 0),
        )
    if len(values) == 0:
        return Section("clv", words("sec.clv"), intro, (Note(words("not_available")),))
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
    return Section("clv", words("sec.clv"), intro, (chart, kpis))


def models_section(summary: Mapping[str, Any], words: Words, fmt: NumberFormat) -> Section | None:
    """A parameter table per fitted model, and the model-selection table when there is one."""
    if "models" not in summary:
        return None
    models = inputs.mapping(summary.get("models"))
    blocks: list[Table | Note] = []
    for role, model in models.items():
        if role in _NOT_MODELS or not isinstance(model, Mapping) or "params" not in model:
            continue
        blocks.append(_parameter_table(str(role), model, words, fmt))
    selection = _selection_table(inputs.mapping(models.get("selection")), words, fmt)
    if selection is not None:
        blocks.append(selection)
    if not blocks:
        blocks.append(Note(words("not_available")))
    return Section("models", words("sec.models"), words("models.intro"), tuple(blocks))


def _parameter_table(role: str, model: Mapping[str, Any], words: Words, fmt: NumberFormat) -> Table:
    params = inputs.mapping(model.get("params"))
    errors = inputs.mapping(model.get("standard_errors"))
    rows = tuple(
        (Cell(str(name)), Cell(fmt.significant(value)), Cell(fmt.significant(errors.get(name))))
        for name, value in params.items()
    )
    notes = [f"{words('model.log_likelihood')}: {fmt.decimal(model.get('log_likelihood'), 2)}"]
    for key, value in model.items():
        if key in _SHOWN or isinstance(value, Mapping | list | tuple) or value is None:
            continue
        label = words(f"model.{key}") if key in _NOTE_LABELS else str(key)
        notes.append(f"{label}: {_scalar(value, words, fmt)}")
    role_name = words(f"model.{role}") if role in _MODEL_ROLES else role
    return Table(
        (
            Column(words("col.parameter"), "code"),
            Column(words("col.estimate"), "num"),
            Column(words("col.std_error"), "num"),
        ),
        rows,
        title=f"{role_name} · {model_name(model.get('model'))}",
        note=" · ".join(notes),
        wide=False,
        key=f"model-{role}",
    )


def _selection_table(selection: Mapping[str, Any], words: Words, fmt: NumberFormat) -> Table | None:
    candidates = inputs.rows(selection.get("candidates"))
    if not candidates:
        return None
    criterion = str(selection.get("criterion") or "")
    how = words(f"selection.{criterion}") if criterion in ("holdout", "bic", "given") else criterion
    rows = tuple(
        (
            Cell(model_name(c.get("model") or c.get("name"))),
            Cell(fmt.integer(c.get("n_params"))),
            Cell(fmt.decimal(c.get("log_likelihood"), 2)),
            Cell(fmt.decimal(c.get("bic"), 2)),
            Cell(fmt.decimal(c.get("holdout_mae"), 4)),
            Cell(_yes_no(c.get("converged"), words)),
            Cell("✓", "a") if c.get("selected") else Cell(""),
        )
        for c in candidates
    )
    return Table(
        (
            Column(words("col.model")),
            Column(words("col.n_params"), "num"),
            Column(words("model.log_likelihood"), "num"),
            Column("BIC", "num"),
            Column(words("col.holdout_mae"), "num"),
            Column(words("col.converged"), "score"),
            Column(words("col.selected"), "badge"),
        ),
        rows,
        title=f"{words('model.selection')} · {how}" if how else words("model.selection"),
        key="model-selection",
    )


def _yes_no(value: object, words: Words) -> str:
    return MISSING if value is None else words("yes") if value else words("no")


def _scalar(value: object, words: Words, fmt: NumberFormat) -> str:
    if isinstance(value, bool):
        return _yes_no(value, words)
    if isinstance(value, int):
        return fmt.integer(value)
    if isinstance(value, float):
        return fmt.significant(value, 4)
    return str(value)


def _series(values: object) -> list[float | None]:
    if not isinstance(values, Sequence) or isinstance(values, str | bytes):
        return []
    return [as_float(v) for v in values]


def _is_cumulative(*series: Sequence[float | None]) -> bool:
    """Whether every series only grows: the tracking curve is cumulative (FHL 2005, fig. 2)."""
    for values in series:
        known = [v for v in values if v is not None]
        if len(known) < 2 or any(b < a for a, b in itertools.pairwise(known)):
            return False
    return True


def holdout_section(
    summary: Mapping[str, Any], unit: str, words: Words, fmt: NumberFormat
) -> Section | None:
    """Holdout accuracy: totals and errors, the tracking curve, the frequency-bin chart."""
    if "holdout" not in summary:
        return None
    holdout = inputs.mapping(summary.get("holdout"))
    actual = as_float(holdout.get("actual_total"))
    predicted = as_float(holdout.get("predicted_total"))
    error = predicted / actual - 1 if actual and predicted is not None else None
    items = [
        Kpi(words("holdout.actual_total"), fmt.decimal(actual, 0), emphasis=True),
        Kpi(words("holdout.predicted_total"), fmt.decimal(predicted, 0), emphasis=True),
        Kpi(
            words("holdout.error"),
            (("+" if error > 0 else "") + fmt.percent(error)) if error is not None else MISSING,
        ),
        Kpi(words("holdout.mae"), fmt.decimal(holdout.get("mae"), 3)),
        Kpi(words("holdout.rmse"), fmt.decimal(holdout.get("rmse"), 3)),
        Kpi(words("holdout.correlation"), fmt.decimal(holdout.get("correlation"), 3)),
    ]
    for top in inputs.rows(holdout.get("purchases_top_share")):
        if as_float(top.get("share")) == 0.2:
            items.append(
                Kpi(
                    words("holdout.top20"),
                    fmt.percent(top.get("captured")),
                    words("holdout.best", share=fmt.percent(top.get("best_possible"))),
                )
            )
    blocks: list[charts.Chart | Kpis] = [Kpis(tuple(items))]
    tracking = inputs.mapping(holdout.get("tracking"))
    periods = tracking.get("period")
    observed = _series(tracking.get("actual"))
    expected = _series(tracking.get("predicted"))
    conditional = _series(tracking.get("conditional"))
    if not expected:
        expected, conditional = conditional, []
    if (
        isinstance(periods, Sequence)
        and not isinstance(periods, str)
        and len(periods) > 0
        and len(periods) == len(observed) == len(expected)
    ):
        blocks.append(
            charts.holdout_tracking(
                [str(p) for p in periods],
                observed,
                expected,
                conditional if len(conditional) == len(periods) else None,
                _is_cumulative(observed, expected),
                unit,
                words,
                fmt,
            )
        )
    bins = [
        charts.FrequencyBin(
            str(row.get("frequency")),
            int(as_float(row.get("customers", row.get("n_customers"))) or 0),
            as_float(row.get("actual")) or 0.0,
            as_float(row.get("predicted")) or 0.0,
        )
        for row in inputs.rows(holdout.get("by_frequency"))
    ]
    if bins:
        blocks.append(charts.holdout_frequency(bins, words, fmt))
    return Section("holdout", words("sec.holdout"), words("holdout.intro"), tuple(blocks))
