"""Lifetime value in the analysis: fit the transaction and spend models, predict, check.

Adds ``p_alive``, ``expected_purchases`` (over the CLV horizon), ``expected_spend`` and
``clv`` to the customers, and ``models`` (and with a calibration end ``holdout``) to the
summary. A data set the models cannot be fitted on (too few customers, no repeat buyers)
gets a warning in the summary instead of a failed run.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from corecustomers.config import Settings
from corecustomers.models import GammaGammaModel, customer_lifetime_value
from corecustomers.models.clv import units_per_month
from corecustomers.models.evaluation import holdout_evaluation
from corecustomers.models.selection import model_class, select_model

__all__ = ["MIN_CUSTOMERS", "value_customers"]

log = logging.getLogger(__name__)

#: Fewer customers than this, or fewer repeat buyers than this, and no model is fitted.
MIN_CUSTOMERS = 20

_CANDIDATES = ("bgnbd", "pnbd", "mbgnbd")


def _warning(summary: dict[str, Any], code: str, message: str) -> None:
    summary.setdefault("warnings", []).append({"code": code, "count": 1, "message": message})


def _array(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def monthly_rate(annual: float) -> float:
    """The monthly rate equivalent to an annual one: ``(1 + annual)^(1/12) - 1``."""
    return float((1.0 + annual) ** (1.0 / 12.0) - 1.0)


def value_customers(
    customers: pa.Table,
    summary: dict[str, Any],
    settings: Settings,
    *,
    holdout_counts: np.ndarray[Any, Any] | None = None,
    holdout_period: float = 1.0,
) -> pa.Table | None:
    """Fit, predict and (with holdout columns) evaluate; return the extended customers.

    ``summary`` gains ``models`` and, when the customers carry holdout columns,
    ``holdout``. Returns None (and records a warning) when no model is fitted.
    """
    if settings.model == "none":
        return None
    n = customers.num_rows
    freq = _array(customers, "frequency")
    repeaters = int(np.sum(freq > 0))
    if n < MIN_CUSTOMERS or repeaters < MIN_CUSTOMERS:
        _warning(
            summary,
            "models_skipped",
            f"lifetime-value models need at least {MIN_CUSTOMERS} customers and "
            f"{MIN_CUSTOMERS} repeat buyers; this data has {n} and {repeaters}",
        )
        return None
    X = {name: _array(customers, name) for name in ("frequency", "recency", "T", "monetary_value")}
    has_holdout = "frequency_holdout" in customers.column_names
    if has_holdout:
        for name in ("frequency_holdout", "duration_holdout", "monetary_value_holdout"):
            X[name] = _array(customers, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if settings.model == "auto":
            selection = select_model(X, candidates=_CANDIDATES, penalizer=settings.penalizer)
            model: Any = selection.model
            choice = selection.to_dict()
        else:
            model_type: Any = model_class(settings.model)  # every model takes ``penalizer``
            model = model_type(penalizer=settings.penalizer)
            model.fit(X)
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
    for w in caught:
        _warning(summary, "model_fit", f"{w.category.__name__}: {w.message}")
    t_horizon = settings.horizon_months * units_per_month(settings.time_unit)
    rate = monthly_rate(settings.annual_discount_rate)
    p_alive = np.clip(np.asarray(model.probability_alive(X), dtype=np.float64), 0.0, 1.0)
    expected = np.asarray(model.expected_purchases(X, t_horizon), dtype=np.float64)
    spend = np.asarray(spend_model.expected_spend(X), dtype=np.float64)
    clv = customer_lifetime_value(
        model,
        spend_model,
        X,
        horizon=settings.horizon_months,
        discount_rate=rate,
        time_unit=settings.time_unit,
        margin=settings.margin,
    )
    summary["models"] = {
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
    if has_holdout:
        evaluation = holdout_evaluation(
            model,
            X,
            spend_model=spend_model,
            period_counts=holdout_counts,
            period_length=holdout_period,
        )
        summary["holdout"] = _holdout_summary(evaluation.to_dict())
    return (
        customers.append_column("p_alive", pa.array(p_alive))
        .append_column("expected_purchases", pa.array(expected))
        .append_column("expected_spend", pa.array(spend))
        .append_column("clv", pa.array(np.asarray(clv, dtype=np.float64)))
    )


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
