"""How well a fitted transaction model predicts a holdout period.

The customers are summarised over a calibration period (``frequency, recency, T``) and
over the holdout that follows (``frequency_holdout`` purchases in ``duration_holdout``
time units, optionally ``monetary_value_holdout``, their mean value). The model, fitted on
the calibration columns, predicts each customer's holdout purchases with its conditional
expectation ``E[X(T, T + duration_holdout) | x, t_x, T]``; :func:`holdout_evaluation`
compares the two the ways the literature does:

* totals, and the per-customer errors (MAE, RMSE, Pearson correlation);
* the conditional expectations by calibration frequency ``0, 1, ..., 7+`` (Fader, Hardie
  & Lee 2005, "Counting Your Customers the Easy Way", *Marketing Science* 24(2), fig. 4);
* how much of the holdout value the customers ranked highest by the model bring (the
  top 10 % and 20 %), next to the best any ranking could do;
* optionally, the cohort's cumulative repeat purchases period by period (FHL 2005, fig. 2).

The result is a plain dataclass whose :meth:`HoldoutEvaluation.to_dict` is
JSON-serialisable (undefined numbers become ``null``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from corecustomers.models._base import FloatArray, columns
from corecustomers.models._optimize import compress_rows

__all__ = [
    "FrequencyBin",
    "HoldoutEvaluation",
    "TopShare",
    "TrackingCurve",
    "holdout_evaluation",
]

#: Calibration frequencies from this value on share one bin ("7+").
TOP_FREQUENCY_BIN = 7
#: Shares of customers whose captured holdout value is reported.
TOP_SHARES = (0.1, 0.2)


class _TransactionModel(Protocol):
    def expected_purchases(self, X: Any, t: Any) -> FloatArray: ...


class _SpendModel(Protocol):
    def expected_spend(self, X: Any) -> FloatArray: ...


@dataclass(frozen=True)
class FrequencyBin:
    """Mean holdout purchases of the customers with one calibration frequency."""

    frequency: str
    n_customers: int
    actual: float
    predicted: float


@dataclass(frozen=True)
class TopShare:
    """Share of the holdout total brought by the top ``share`` of customers.

    ``captured``: customers ranked by the model's prediction; ``best_possible``: ranked by
    what they actually did (the ceiling for any ranking).
    """

    share: float
    n_customers: int
    captured: float
    best_possible: float


@dataclass(frozen=True)
class TrackingCurve:
    """Cumulative repeat purchases of the cohort over the holdout, period by period.

    ``predicted``: ``sum_i E[X(T_i + k L)] - E[X(T_i)]`` with the model's *unconditional*
    expectation for a new customer, shifted by each customer's age ``T_i`` at the end of
    calibration (the tracking plot of FHL 2005, fig. 2); ``conditional``: the sum of the
    customers' *conditional* expectations ``E[X(T_i, T_i + k L) | x_i, t_x,i, T_i]``.
    ``L`` is ``period_length`` in model time units; period ``k`` ends at ``k L``.
    """

    period_length: float
    period: tuple[int, ...]
    actual: tuple[float, ...]
    predicted: tuple[float, ...] | None
    conditional: tuple[float, ...]


@dataclass(frozen=True)
class HoldoutEvaluation:
    """Actual against predicted holdout behaviour (see the module docstring)."""

    model: str
    n_customers: int
    duration_holdout: float
    actual_purchases: float
    predicted_purchases: float
    mae: float
    rmse: float
    correlation: float
    by_frequency: tuple[FrequencyBin, ...]
    purchases_top_share: tuple[TopShare, ...]
    actual_spend: float | None = None
    predicted_spend: float | None = None
    spend_top_share: tuple[TopShare, ...] | None = None
    tracking: TrackingCurve | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists, NaN and infinities ``None``)."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _correlation(a: FloatArray, b: FloatArray) -> float:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _top_shares(predicted: FloatArray, actual: FloatArray) -> tuple[TopShare, ...]:
    """Share of ``actual`` total in the top customers by ``predicted`` (stable ties)."""
    total = float(actual.sum())
    by_model = np.argsort(-predicted, kind="stable")
    by_actual = np.sort(actual)[::-1]
    out = []
    for share in TOP_SHARES:
        k = max(1, math.ceil(share * actual.size))
        if total > 0:
            captured = float(actual[by_model[:k]].sum()) / total
            best = float(by_actual[:k].sum()) / total
        else:
            captured = best = float("nan")
        out.append(TopShare(share=share, n_customers=k, captured=captured, best_possible=best))
    return tuple(out)


def _has(X: Any, name: str) -> bool:
    try:
        columns(X, (name,))
    except ValueError:
        return False
    return True


def _tracking(
    model: Any,
    X: Any,
    counts: FloatArray,
    period_length: float,
) -> TrackingCurve:
    if counts.ndim != 1 or counts.size == 0 or not np.all(np.isfinite(counts)):
        raise ValueError("period_counts must be a non-empty 1-D array of finite counts")
    if not period_length > 0:
        raise ValueError("period_length must be positive (model time units per period)")
    ends = period_length * np.arange(1, counts.size + 1, dtype=np.float64)
    cols, _ = columns(X, ("frequency", "recency", "T"))
    (x, tx, T), w = compress_rows([cols["frequency"], cols["recency"], cols["T"]])
    unique = {"frequency": x, "recency": tx, "T": T}
    conditional = tuple(
        float(np.dot(w, np.asarray(model.expected_purchases(unique, e), dtype=np.float64)))
        for e in ends
    )
    predicted: tuple[float, ...] | None = None
    new = getattr(model, "expected_purchases_new", None)
    if callable(new):
        (ages,), w_age = compress_rows([T], w)
        base = np.asarray(new(ages), dtype=np.float64)
        predicted = tuple(
            float(np.dot(w_age, np.asarray(new(ages + e), dtype=np.float64) - base)) for e in ends
        )
    return TrackingCurve(
        period_length=float(period_length),
        period=tuple(range(1, counts.size + 1)),
        actual=tuple(float(v) for v in np.cumsum(counts)),
        predicted=predicted,
        conditional=conditional,
    )


def holdout_evaluation(
    model: _TransactionModel,
    X: Any,
    *,
    spend_model: _SpendModel | None = None,
    period_counts: Any = None,
    period_length: float = 1.0,
) -> HoldoutEvaluation:
    """Compare a fitted transaction model's predictions with a holdout period.

    Parameters
    ----------
    model : fitted transaction model
        Anything with ``expected_purchases(X, t)``; for the tracking curve also
        ``expected_purchases_new(t)``.
    X : table
        One row per customer: ``frequency, recency, T`` (calibration, in the model's time
        unit), ``frequency_holdout`` and ``duration_holdout`` (same unit), optionally
        ``monetary_value_holdout`` (mean value of the holdout purchases) and, for
        ``spend_model``, ``monetary_value``.
    spend_model : fitted spend model, optional
        With ``expected_spend(X)`` (e.g. :class:`~corecustomers.models.GammaGammaModel`);
        then customers are ranked by predicted holdout value, ``predicted purchases x
        expected spend``, and the predicted spend total is reported. Needs
        ``monetary_value_holdout``.
    period_counts : array, optional
        Repeat purchases of these customers in each successive holdout period (e.g. per
        day or week); adds the cumulative :class:`TrackingCurve`.
    period_length : float, default 1.0
        Length of one of those periods in the model's time unit (``1/7`` for daily counts
        with a weekly model).

    Returns
    -------
    HoldoutEvaluation

    Notes
    -----
    The holdout spend of a customer is ``frequency_holdout * monetary_value_holdout``.
    Without a spend model but with ``monetary_value_holdout`` the spend captured by the
    customers ranked by predicted purchases is still reported.
    """
    cols, _ = columns(X, ("frequency_holdout", "duration_holdout"))
    actual = cols["frequency_holdout"]
    duration = cols["duration_holdout"]
    if np.any(actual < 0) or np.any(duration < 0):
        raise ValueError("frequency_holdout and duration_holdout must be non-negative")
    if actual.size == 0:
        raise ValueError("the holdout evaluation needs at least one customer")
    predicted = np.asarray(model.expected_purchases(X, duration), dtype=np.float64)
    freq = columns(X, ("frequency",))[0]["frequency"]
    err = predicted - actual

    bins = []
    capped = np.minimum(freq, TOP_FREQUENCY_BIN)
    for b in range(TOP_FREQUENCY_BIN + 1):
        mask = capped == b
        n = int(mask.sum())
        label = f"{b}+" if b == TOP_FREQUENCY_BIN else str(b)
        bins.append(
            FrequencyBin(
                frequency=label,
                n_customers=n,
                actual=float(actual[mask].mean()) if n else float("nan"),
                predicted=float(predicted[mask].mean()) if n else float("nan"),
            )
        )

    actual_spend = predicted_spend = None
    spend_shares = None
    ranking = predicted
    if spend_model is not None or _has(X, "monetary_value_holdout"):
        if not _has(X, "monetary_value_holdout"):
            raise ValueError(
                "a spend model needs the holdout spend: add monetary_value_holdout "
                "(mean value of each customer's holdout purchases)"
            )
        mv = columns(X, ("monetary_value_holdout",))[0]["monetary_value_holdout"]
        actual_value = actual * np.where(actual > 0, mv, 0.0)
        actual_spend = float(actual_value.sum())
        if spend_model is not None:
            spend = np.asarray(spend_model.expected_spend(X), dtype=np.float64)
            ranking = predicted * spend
            predicted_spend = float(ranking.sum())
        spend_shares = _top_shares(ranking, actual_value)

    tracking = None
    if period_counts is not None:
        tracking = _tracking(
            model, X, np.asarray(period_counts, dtype=np.float64).ravel(), period_length
        )

    return HoldoutEvaluation(
        model=type(model).__name__,
        n_customers=int(actual.size),
        duration_holdout=float(duration.mean()),
        actual_purchases=float(actual.sum()),
        predicted_purchases=float(predicted.sum()),
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err**2))),
        correlation=_correlation(predicted, actual),
        by_frequency=tuple(bins),
        purchases_top_share=_top_shares(predicted, actual),
        actual_spend=actual_spend,
        predicted_spend=predicted_spend,
        spend_top_share=spend_shares,
        tracking=tracking,
    )
