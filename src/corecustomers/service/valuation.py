"""Lifetime value in the analysis: fit the transaction and spend models, predict, check.

Adds ``p_alive``, ``expected_purchases`` (over the CLV horizon), ``expected_spend`` and
``clv`` to the customers, and returns the fitted models with their predictions
(:class:`~corecustomers.insights.fitted.FittedValue`), so that the ranking, potential
value, alerts and the report use this one fit instead of fitting again. A data set the
models cannot be fitted on (too few customers, no repeat buyers) gets a warning instead
of a failed run.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from corecustomers.config import Settings
from corecustomers.insights.fitted import FittedValue
from corecustomers.models import (
    GammaGammaModel,
    customer_lifetime_value,
    distinct_histories,
    record_fit_warnings,
)
from corecustomers.models.clv import units_per_month
from corecustomers.models.evaluation import holdout_evaluation
from corecustomers.models.selection import model_class, select_model

__all__ = ["MIN_CUSTOMERS", "Valuation", "horizon_units", "value_customers"]

log = logging.getLogger(__name__)

#: Fewer customers than this, or fewer repeat buyers than this, and no model is fitted.
MIN_CUSTOMERS = 20

_CANDIDATES = ("bgnbd", "pnbd", "mbgnbd")


@dataclass(frozen=True)
class Valuation:
    """What the valuation step gives the rest of the analysis.

    Attributes
    ----------
    customers
        The customers with ``p_alive``, ``expected_purchases``, ``expected_spend`` and
        ``clv`` (unchanged when no model was fitted).
    fitted
        The fitted models and their predictions, aligned with ``customers``; None when
        no model was fitted.
    models
        ``summary.json``'s ``models`` (None when no model was fitted).
    holdout
        ``summary.json``'s ``holdout`` (None without a calibration end).
    warnings
        Warnings for ``summary.json``'s ``warnings`` (``code``, ``count``, ``message``).
    """

    customers: pa.Table
    fitted: FittedValue | None = None
    models: dict[str, Any] | None = None
    holdout: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _warning(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "count": 1, "message": message}


def _array(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def monthly_rate(annual: float) -> float:
    """The monthly rate equivalent to an annual one: ``(1 + annual)^(1/12) - 1``."""
    return float((1.0 + annual) ** (1.0 / 12.0) - 1.0)


def value_customers(
    customers: pa.Table,
    settings: Settings,
    *,
    holdout_counts: np.ndarray[Any, Any] | None = None,
    holdout_period: float = 1.0,
    start: FittedValue | None = None,
) -> Valuation:
    """Fit, predict and (with holdout columns) evaluate, once per analysis.

    ``start`` (a fit of the same model on related data, e.g. the previous date of a
    ``history``) is where the configured transaction model's fit starts; a fit from it
    that does not converge inside its range is done again from the model's own starts,
    so the estimate is the one a fit without ``start`` reaches, to the optimiser's
    tolerance. It is not used for ``model = "auto"``, which compares several models.

    The result holds the extended customers, the fitted models with their predictions,
    the ``models`` figures and, when the customers carry holdout columns, ``holdout``.
    Without a model (``model = "none"``, or too few customers: a warning says so) its
    ``fitted`` is None and the customers are returned unchanged.
    """
    if settings.model == "none":
        return Valuation(customers)
    n = customers.num_rows
    freq = _array(customers, "frequency")
    repeaters = int(np.sum(freq > 0))
    if n < MIN_CUSTOMERS or repeaters < MIN_CUSTOMERS:
        skipped = _warning(
            "models_skipped",
            f"lifetime-value models need at least {MIN_CUSTOMERS} customers and "
            f"{MIN_CUSTOMERS} repeat buyers; this data has {n} and {repeaters}",
        )
        return Valuation(customers, warnings=[skipped])
    X = {name: _array(customers, name) for name in ("frequency", "recency", "T", "monetary_value")}
    has_holdout = "frequency_holdout" in customers.column_names
    if has_holdout:
        for name in ("frequency_holdout", "duration_holdout", "monetary_value_holdout"):
            X[name] = _array(customers, name)
    # the customers' distinct histories, found once: every transaction model is fitted on
    # them and the CLV predicts from them
    rows, index = distinct_histories(X)
    with record_fit_warnings() as caught:
        if settings.model == "auto":
            selection = select_model(
                X, candidates=_CANDIDATES, penalizer=settings.penalizer, histories=rows
            )
            model: Any = selection.model
            choice = selection.to_dict()
        else:
            model_type: Any = model_class(settings.model)  # every model takes ``penalizer``
            model = model_type(penalizer=settings.penalizer)
            given = None if start is None else start.transaction_model
            if given is not None and type(given) is model_type:
                with record_fit_warnings() as warm:
                    model.fit(rows, start=given.params_)
                if model.converged_:
                    for w in warm:
                        w.warn()
                else:  # stopped at the edge of the range around the start: fit afresh
                    model = model_type(penalizer=settings.penalizer)
                    model.fit(rows)
            else:
                model.fit(rows)
            choice = {"name": settings.model, "criterion": "given", "model": model.to_dict()}
        repeat = freq > 0
        spend_X = {
            "frequency": X["frequency"][repeat],
            "monetary_value": X["monetary_value"][repeat],
        }
        positive = spend_X["monetary_value"] > 0
        spend_model = GammaGammaModel(penalizer=settings.penalizer).fit(
            {k: v[positive] for k, v in spend_X.items()}
        )
    notes = [_warning("model_fit", str(w)) for w in caught]
    t_horizon = horizon_units(settings)
    rate = monthly_rate(settings.annual_discount_rate)
    clv = customer_lifetime_value(
        model,
        spend_model,
        X,
        horizon=settings.horizon_months,
        discount_rate=rate,
        time_unit=settings.time_unit,
        margin=settings.margin,
        histories=(rows, index),
    )
    fitted = FittedValue.predict(
        customer_id=customers.column("customer_id").combine_chunks().cast(pa.string()),
        X={k: X[k] for k in ("frequency", "recency", "T", "monetary_value")},
        transaction_model=model,
        spend_model=spend_model,
        clv=np.asarray(clv, dtype=np.float64),
        time_unit=settings.time_unit,
        horizon=t_horizon,
        penalizer=settings.penalizer,
    )
    models = {
        "transaction": _model_summary(model.to_dict()),
        "selection": choice,
        "spend": {
            **_model_summary(spend_model.to_dict()),
            "n_repeat_customers": int(np.sum(positive)),
            "spend_frequency_correlation": _finite(
                getattr(spend_model, "spend_frequency_correlation_", math.nan)
            ),
        },
        "clv": {
            "horizon_months": settings.horizon_months,
            "annual_discount_rate": settings.annual_discount_rate,
            "monthly_discount_rate": rate,
            "discounting": "discrete, monthly",
            "margin": settings.margin,
            "time_unit": settings.time_unit,
            "total": float(np.sum(clv)),
        },
    }
    holdout = None
    if has_holdout:
        evaluation = holdout_evaluation(
            model,
            X,
            spend_model=spend_model,
            period_counts=holdout_counts,
            period_length=holdout_period,
        )
        holdout = _holdout_summary(evaluation.to_dict())
    valued = (
        customers.append_column("p_alive", pa.array(fitted.p_alive))
        .append_column("expected_purchases", pa.array(fitted.expected_purchases))
        .append_column("expected_spend", pa.array(fitted.expected_spend))
        .append_column("clv", pa.array(fitted.clv))
    )
    return Valuation(valued, fitted, models, holdout, notes)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _model_summary(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": d["model"],
        "params": d["params"],
        "standard_errors": d.get("standard_errors", {}),
        "log_likelihood": d.get("log_likelihood"),
        "n_customers": d.get("n_customers"),
        "converged": d.get("converged"),
    }


def _holdout_summary(d: dict[str, Any]) -> dict[str, Any]:
    """The evaluation, plus the short keys the report reads."""
    out = dict(d)
    out["by_frequency"] = [
        {**b, "customers": b.get("n_customers")} for b in d.get("by_frequency") or []
    ]
    out["actual_total"] = d.get("actual_purchases")
    out["predicted_total"] = d.get("predicted_purchases")
    return out


def horizon_units(settings: Settings) -> float:
    """The CLV horizon in the settings' time units (the fitted models'
    :attr:`~corecustomers.insights.fitted.FittedValue.horizon`)."""
    return settings.horizon_months * units_per_month(settings.time_unit)
