"""Customer lifetime value from a transaction model and a spend model.

``CLV = margin * E[spend per transaction] * discounted E[future transactions]``
(Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", *Journal of Marketing Research* 42(4), 415-430, eq. (1)), with the future
transactions discounted in one of two ways:

``discounting="discrete"``
    Month by month, as lifetimes' ``customer_lifetime_value`` does: the expected
    transactions in month ``i`` (the increase of the model's cumulative conditional
    expectation over that month) are discounted by ``(1 + discount_rate) ** i``, for
    ``i = 1 .. horizon``.
``discounting="continuous"``
    Each future transaction at time ``t`` is discounted by ``exp(-delta t)``: the
    *discounted expected residual transactions* (DERT) of FHL (2005). With
    ``delta = ln(1 + discount_rate)`` per month both modes agree at month ends. For
    the Pareto/NBD model and an infinite horizon the closed form of FHL (2005), eq. (2),
    is used; otherwise the equivalent integral ``int_0^H exp(-delta t) dE[X(t)]`` is
    computed numerically (composite Gauss-Legendre on log-spaced panels).

Time units are never guessed: ``time_unit`` names the unit of the model's ``recency``
and ``T`` (``"day"``, ``"week"`` = 7 days, ``"month"`` = 30.4375 days, ``"year"`` =
365.25 days), ``horizon`` is in months and ``discount_rate`` is the effective rate per
month.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.special import hyperu

from corecustomers.models._base import FloatArray, columns
from corecustomers.models._transactions import TRANSACTION_COLUMNS, RFMData
from corecustomers.models._transactions import TransactionModel as _FittedTransactionModel
from corecustomers.units import DAYS_IN_MEAN_MONTH, DAYS_IN_MEAN_YEAR, DAYS_PER_UNIT, TimeUnit

__all__ = [
    "ModelTimeUnit",
    "SpendModel",
    "TransactionModel",
    "customer_lifetime_value",
    "discounted_expected_transactions",
    "units_per_month",
]

ModelTimeUnit = TimeUnit | Literal["year"]
"""The unit of a model's ``recency`` and ``T``: an analysis :data:`~corecustomers.units.TimeUnit`
or, for models of yearly periods such as the BG/BB, the mean year (365.25 days)."""

#: Length of each :data:`ModelTimeUnit` in days (:mod:`corecustomers.units`' and the year).
_DAYS: dict[str, float] = {**DAYS_PER_UNIT, "year": DAYS_IN_MEAN_YEAR}


class TransactionModel(Protocol):
    """Anything with the conditional expectation of future transactions."""

    def expected_purchases(self, X: Any, t: Any) -> FloatArray:
        """Expected transactions of each customer of ``X`` in the next ``t`` time units."""
        ...


class SpendModel(Protocol):
    """Anything with an expected spend per transaction for each customer."""

    def expected_spend(self, X: Any) -> FloatArray:
        """Expected average spend per transaction of each customer of ``X``."""
        ...


def units_per_month(time_unit: str) -> float:
    """How many model time units make one month (30.4375 days).

    >>> round(units_per_month("week"), 4)
    4.3482
    """
    try:
        return DAYS_IN_MEAN_MONTH / _DAYS[time_unit]
    except KeyError:
        raise ValueError(
            f"unknown time_unit {time_unit!r}; give the unit of the model's recency and T: "
            f"one of {', '.join(_DAYS)}"
        ) from None


def _spend(spend_model: SpendModel | float | Any, X: Any, n: int) -> FloatArray:
    if hasattr(spend_model, "expected_spend"):
        spend = np.asarray(spend_model.expected_spend(X), dtype=np.float64)
    else:
        spend = np.asarray(spend_model, dtype=np.float64)
    spend = np.broadcast_to(spend, (n,)).astype(np.float64)
    if not np.all(np.isfinite(spend)):
        raise ValueError("expected spend is not finite for some customers")
    return spend


def _distinct_histories(
    transaction_model: TransactionModel, X: Any
) -> tuple[dict[str, FloatArray], NDArray[np.intp]] | None:
    """The distinct histories ``(frequency, recency, T)`` of ``X`` and each row's index
    among them.

    Many customers share a history (whole days, few purchases). The BG/NBD family and
    the Pareto/NBD predict row by row from these three columns only, so their predictions
    are computed once per distinct history and each customer's is taken from it: the same
    numbers. None for other models, for ``X`` that is not a mapping of such columns (or
    has weights, or values the model would refuse), and when fewer than a fifth of the
    rows repeat another.
    """
    if not isinstance(transaction_model, _FittedTransactionModel):
        return None
    if not isinstance(X, Mapping) or "weights" in X:
        return None
    if any(name not in X for name in TRANSACTION_COLUMNS):
        return None
    cols = [np.asarray(X[name], dtype=np.float64) for name in TRANSACTION_COLUMNS]
    n = cols[0].shape[0] if cols[0].ndim == 1 else 0
    if n < 1000 or any(c.shape != (n,) for c in cols):
        return None
    stacked = np.stack(cols, axis=1)
    if not np.all(np.isfinite(stacked)):
        return None  # the model names the offending row
    # the rows sorted by (frequency, recency, T) and cut where one differs from the next:
    # np.unique(axis=0)'s groups, several times faster than its sort of whole rows
    order = np.lexsort(cols[::-1])
    ordered = stacked[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=starts[1:])
    distinct = ordered[starts]
    if len(distinct) > 0.8 * n:
        return None
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    rows = {
        name: np.ascontiguousarray(distinct[:, j]) for j, name in enumerate(TRANSACTION_COLUMNS)
    }
    return rows, np.asarray(inverse, dtype=np.intp).reshape(-1)


def _n_rows(transaction_model: TransactionModel, X: Any) -> int:
    return int(np.atleast_1d(transaction_model.expected_purchases(X, 0.0)).shape[0])


def _pareto_nbd_dert(model: Any, X: Any, delta: float) -> FloatArray | None:
    """FHL (2005) eq. (2) for a Pareto/NBD model, or None when ``model`` is not one.

    ``DERT = P(alive) * (r + x)/(alpha + T) * (beta + T)^s delta^(s-1) U(s, s; delta(beta+T))``,
    the posterior-mean purchase rate times ``E[1/(mu + delta)]`` under the posterior
    ``mu ~ Gamma(s, beta + T)`` of an active customer.
    """
    params = getattr(model, "params_", None)
    if type(model).__name__ != "ParetoNBDModel" or not isinstance(params, dict):
        return None
    if not {"r", "alpha", "s", "beta"} <= params.keys():
        return None
    r, alpha, s, beta = (float(params[k]) for k in ("r", "alpha", "s", "beta"))
    cols, _ = columns(X, ("frequency", "T"))
    x, T = cols["frequency"], cols["T"]
    p_alive = np.asarray(model.probability_alive(X), dtype=np.float64)
    z = delta * (beta + T)
    # (beta+T)^s delta^(s-1) U(s, s; z) = z^s U(s, s; z) / delta
    tail = np.exp(s * np.log(z)) * hyperu(s, s, z) / delta
    out = p_alive * (r + x) / (alpha + T) * tail
    return out if np.all(np.isfinite(out)) else None


def _quadrature(y_max: float, nodes_per_panel: int) -> tuple[FloatArray, FloatArray]:
    """Composite Gauss-Legendre nodes and weights on ``[0, y_max]``, log-spaced panels.

    The integrand ``e^{-y} E(y / delta)`` changes on the scale of the model (often
    ``y << 1``) and on the scale of the discounting (``y ~ 1``); panels whose edges grow
    geometrically from 1e-6 resolve both.
    """
    lo = min(1e-6, y_max / 2.0)
    edges = np.concatenate([[0.0], np.geomspace(lo, y_max, 20)])
    u, wu = np.polynomial.legendre.leggauss(nodes_per_panel)
    left, right = edges[:-1, None], edges[1:, None]
    half = (right - left) / 2.0
    return (left + half * (u[None, :] + 1.0)).ravel(), (half * wu[None, :]).ravel()


def discounted_expected_transactions(
    transaction_model: TransactionModel,
    X: Any,
    *,
    delta: float,
    horizon: float = math.inf,
    nodes_per_panel: int = 8,
) -> FloatArray:
    """``int_0^H exp(-delta t) dE[X(T, T+t) | data]`` in the model's time units (DERT).

    Parameters
    ----------
    transaction_model : TransactionModel
        A fitted model with ``expected_purchases(X, t)``.
    X : table
        The customers' summaries.
    delta : float
        Continuously compounded discount rate per model time unit (> 0 when ``horizon``
        is infinite).
    horizon : float, default inf
        Upper limit ``H`` in model time units.
    nodes_per_panel : int, default 8
        Gauss-Legendre nodes in each of the 20 panels.

    Notes
    -----
    By parts, with ``E(0) = 0`` and ``y = delta t``,
    ``int_0^H e^{-delta t} dE(t) = e^{-delta H} E(H) + int_0^{delta H} e^{-y} E(y/delta) dy``;
    for ``H = inf`` the first term vanishes and the integral is truncated at ``y = 60``
    (``e^{-60} ~ 1e-26``). For ``H = inf`` and a Pareto/NBD model the closed form of
    FHL (2005), eq. (2), is returned instead.
    """
    if delta < 0 or (math.isinf(horizon) and delta <= 0):
        raise ValueError("delta must be positive (non-negative with a finite horizon)")
    if horizon < 0:
        raise ValueError("horizon must be non-negative")
    if math.isinf(horizon):
        closed = _pareto_nbd_dert(transaction_model, X, delta)
        if closed is not None:
            return closed
        total = np.zeros(_n_rows(transaction_model, X))
        y_max = 60.0
    else:
        end = np.asarray(transaction_model.expected_purchases(X, horizon), dtype=np.float64)
        if delta == 0 or horizon == 0:
            return end
        total = math.exp(-delta * horizon) * end
        y_max = delta * horizon
    y, wy = _quadrature(y_max, nodes_per_panel)
    for yi, wi in zip(y, wy, strict=True):
        e_t = np.asarray(transaction_model.expected_purchases(X, yi / delta), dtype=np.float64)
        total = total + wi * math.exp(-yi) * e_t
    return np.asarray(total)


def customer_lifetime_value(
    transaction_model: TransactionModel,
    spend_model: SpendModel | float | Any,
    X: Any,
    *,
    horizon: float,
    discount_rate: float,
    time_unit: ModelTimeUnit,
    margin: float = 1.0,
    discounting: Literal["discrete", "continuous"] = "discrete",
    histories: tuple[RFMData, NDArray[np.intp]] | None = None,
) -> FloatArray:
    """Expected discounted value of each customer's future transactions.

    Parameters
    ----------
    transaction_model : TransactionModel
        Fitted model with ``expected_purchases(X, t)`` (``t`` in the model's time units).
    spend_model : SpendModel or float or array
        Fitted model with ``expected_spend(X)`` (e.g. :class:`GammaGammaModel`), or the
        spend per transaction itself.
    X : table
        Customers' summaries, with the columns both models need.
    horizon : float
        Months ahead. A whole number for discrete discounting; ``math.inf`` allowed for
        continuous discounting (the DERT of FHL 2005).
    discount_rate : float
        Effective discount rate per month (e.g. 0.01); continuous discounting uses
        ``delta = ln(1 + discount_rate)`` per month.
    time_unit : {"day", "week", "month", "year"}
        Unit of the model's ``recency`` and ``T``; required, never guessed.
    margin : float, default 1.0
        Share of spend that is profit.
    discounting : {"discrete", "continuous"}, default "discrete"
        See the module docstring.
    histories : tuple, optional
        ``X``'s distinct histories and each customer's index among them, as
        :func:`~corecustomers.models.distinct_histories` gives them, when they are at
        hand: a BG/NBD-family or Pareto/NBD model's discrete-discounting predictions are
        then made once per history from them (as they are anyway when many customers
        share a history), instead of finding them again.

    Returns
    -------
    ndarray
        CLV of each customer, in the currency of the spend.

    Notes
    -----
    Discrete mode computes, with ``f`` model units per month,
    ``sum_{i=1}^{H} margin * spend * (E[X(i f)] - E[X((i-1) f)]) / (1 + discount_rate)^i``
    -- lifetimes' loop, with the month fixed at 30.4375 days (lifetimes uses 30 days for
    daily and 4.345 weeks for weekly data).

    Examples
    --------
    A donor of the BG/BB paper who gave in each of 6 yearly drives, worth 25 a gift, over
    the next 5 years at 0.8 % a month:

    >>> from corecustomers.models import BetaGeoBetaBinomModel, customer_lifetime_value
    >>> bgbb = BetaGeoBetaBinomModel.from_dict(
    ...     {"params": {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}})
    >>> X = {"frequency": [6.0], "recency": [6.0], "periods": [6.0]}
    >>> value = customer_lifetime_value(
    ...     bgbb, 25.0, X, horizon=60, discount_rate=0.008, time_unit="year")
    >>> round(float(value[0]), 2)
    75.11
    """
    f = units_per_month(time_unit)
    if discount_rate <= -1:
        raise ValueError("discount_rate must be greater than -1 (it is a rate per month)")
    if margin < 0:
        raise ValueError("margin must be non-negative")
    if discounting == "discrete":
        if not math.isfinite(horizon) or horizon < 0 or horizon != round(horizon):
            raise ValueError("discrete discounting needs a whole, finite horizon in months")
        distinct: tuple[Any, NDArray[np.intp]] | None
        if histories is not None and isinstance(transaction_model, _FittedTransactionModel):
            given, index = histories
            distinct = ({"frequency": given.x, "recency": given.tx, "T": given.T}, index)
        else:
            distinct = _distinct_histories(transaction_model, X)
        rows = X if distinct is None else distinct[0]
        steps = [i * f for i in range(int(horizon) + 1)]  # the month ends, from 0
        if isinstance(transaction_model, _FittedTransactionModel):
            # validated, and what does not depend on the horizon computed, once
            expected = transaction_model.expected_purchases_over(rows, steps)
        else:
            expected = (transaction_model.expected_purchases(rows, t) for t in steps)
        previous = np.asarray(next(expected), dtype=np.float64)
        value = np.zeros(previous.shape[0])
        for i, current in enumerate(expected, start=1):
            current = np.asarray(current, dtype=np.float64)
            value += (current - previous) / (1.0 + discount_rate) ** i
            previous = current
        if distinct is not None:
            value = value[distinct[1]]
        return margin * _spend(spend_model, X, value.shape[0]) * value
    if discounting == "continuous":
        if horizon < 0:
            raise ValueError("horizon must be non-negative")
        delta = math.log1p(discount_rate) / f
        dert = discounted_expected_transactions(
            transaction_model, X, delta=delta, horizon=horizon * f
        )
        return margin * _spend(spend_model, X, dert.shape[0]) * dert
    raise ValueError(f"discounting must be 'discrete' or 'continuous', not {discounting!r}")
