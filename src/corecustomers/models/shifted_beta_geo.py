"""The shifted-beta-geometric (sBG) model of contract duration and retention.

Fader, P. S. & Hardie, B. G. S. (2007), "How to Project Customer Retention", *Journal of
Interactive Marketing* 21(1), 76-90 (working paper: http://brucehardie.com/papers/021/).
Residual lifetime value: Fader, P. S. & Hardie, B. G. S. (2010), "Customer-Base Valuation
in a Contractual Setting: The Perils of Ignoring Heterogeneity", *Marketing Science*
29(1), 85-93.

A contractual customer, acquired at ``t = 0``, renews at each of ``t = 1, 2, ...`` with a
constant probability ``1 - theta`` and churns for good otherwise, so the period ``T`` at
which the customer is lost is shifted-geometric; ``theta ~ Beta(alpha, beta)`` across
customers. Then

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)`` (recursively eq. (7)),
* ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)``,
* the retention rate ``r_t = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1)``,
  eq. (8), rises with ``t`` as the churn-prone customers leave,
* and a cohort observed to period ``t_f`` has the log-likelihood of eq. (B3),
  ``sum_t n_t ln P(T = t) + (survivors) ln S(t_f)``.

The model fits a **duration table**: one row per group of customers with ``duration``
(periods observed), ``churned`` (1 if lost at ``duration``, 0 if still active there) and
``weights``. :func:`survival_table` builds it from a cohort's survival counts; several
cohorts of different ages are several tables concatenated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from scipy.special import betaln, digamma, hyp2f1

from corecustomers.models._base import BaseModel, FloatArray, columns
from corecustomers.models._optimize import compress_rows, fit_positive

__all__ = ["ShiftedBetaGeoModel", "survival_table"]


def survival_table(
    alive: Sequence[float] | FloatArray | None = None,
    *,
    lost: Sequence[float] | FloatArray | None = None,
    survivors: float | None = None,
) -> dict[str, FloatArray]:
    """The duration table of one cohort.

    Give either ``alive`` -- the number of customers still active at the start of each
    period ``t = 0, 1, ..., t_f`` (the first entry is the cohort size) -- or ``lost`` -- the
    number lost in each period ``t = 1, ..., t_f`` -- together with ``survivors``, the
    number still active at ``t_f``. Counts may be proportions.

    Returns
    -------
    dict
        ``duration``, ``churned``, ``weights``: ``t_f`` rows of churners (``duration = t``,
        ``churned = 1``, weight ``n_t``) and one row of survivors censored at ``t_f``.

    Examples
    --------
    >>> table = survival_table([1000, 631, 468])
    >>> [t.tolist() for t in (table["duration"], table["churned"], table["weights"])]
    [[1.0, 2.0, 2.0], [1.0, 1.0, 0.0], [369.0, 163.0, 468.0]]
    """
    if (alive is None) == (lost is None):
        raise ValueError("give either alive (survival counts) or lost together with survivors")
    if alive is not None:
        a = np.asarray(alive, dtype=np.float64).ravel()
        if a.size < 2:
            raise ValueError("alive needs the cohort size and at least one later count")
        if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(np.diff(a) > 0):
            raise ValueError(
                "alive must be finite, non-negative and non-increasing "
                "(customers still active at the start of each period)"
            )
        n_lost = -np.diff(a)
        n_surv = float(a[-1])
    else:
        if survivors is None:
            raise ValueError("lost needs survivors: the number still active after the last period")
        n_lost = np.asarray(lost, dtype=np.float64).ravel()
        n_surv = float(survivors)
        if (
            n_lost.size == 0
            or not np.all(np.isfinite(n_lost))
            or np.any(n_lost < 0)
            or not np.isfinite(n_surv)
            or n_surv < 0
        ):
            raise ValueError("lost and survivors must be finite and non-negative")
    t_f = n_lost.size
    duration = np.append(np.arange(1.0, t_f + 1.0), float(t_f))
    churned = np.append(np.ones(t_f), 0.0)
    weights = np.append(n_lost, n_surv)
    return {"duration": duration, "churned": churned, "weights": weights}


def _has_column(X: Any, name: str) -> bool:
    try:
        columns(X, (name,))
    except ValueError:
        return False
    return True


def _duration_columns(X: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A duration table from any of the accepted input forms (see :meth:`fit`)."""
    if isinstance(X, Sequence | np.ndarray) and np.ndim(X) == 1:
        X = survival_table(np.asarray(X, dtype=np.float64))
    elif isinstance(X, Mapping) and "lost" in X and "duration" not in X:
        X = survival_table(lost=X["lost"], survivors=X.get("survivors"))
    elif not _has_column(X, "duration") and _has_column(X, "alive"):
        X = survival_table(columns(X, ("alive",))[0]["alive"])
    cols, w = columns(X, ("duration", "churned"), weights="weights")
    t, c = cols["duration"], cols["churned"]
    if np.any(t < 0) or np.any(t != np.round(t)):
        raise ValueError("duration must be a whole, non-negative number of periods")
    if np.any((c != 0) & (c != 1)):
        raise ValueError("churned must be 1 (lost at duration) or 0 (still active at duration)")
    if np.any((c == 1) & (t < 1)):
        raise ValueError("a churned customer has duration >= 1 (lost at a renewal)")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    return t, c, w


def _log_likelihood(
    params: FloatArray, t: FloatArray, c: FloatArray, *, gradient: bool
) -> tuple[FloatArray, FloatArray]:
    """Per-row log-likelihood (terms of eq. (B3)) and its gradient in ``(alpha, beta)``."""
    a, b = (float(v) for v in params)
    lost = c == 1
    ll = np.where(
        lost,
        betaln(a + 1.0, b + np.maximum(t - 1.0, 0.0)),
        betaln(a, b + t),
    ) - betaln(a, b)
    if not gradient:
        return ll, np.empty((0, t.size))
    d_all = digamma(a + b + t)
    d0 = digamma(a + b)
    grad = np.stack(
        [
            np.where(lost, digamma(a + 1.0), digamma(a)) - d_all - digamma(a) + d0,
            np.where(lost, digamma(b + np.maximum(t - 1.0, 0.0)), digamma(b + t))
            - d_all
            - digamma(b)
            + d0,
        ]
    )
    return ll, grad


class ShiftedBetaGeoModel(BaseModel):
    """sBG model of contractual retention (Fader & Hardie 2007).

    Parameters
    ----------
    penalizer : float, default 0.0
        Coefficient of the L2 penalty ``penalizer * sum(params**2)`` added to the mean
        negative log-likelihood (lifetimes' ``penalizer_coef``); 0 is plain maximum
        likelihood.

    Attributes
    ----------
    params_ : dict of str to float
        ``alpha, beta``: the churn probability ``theta ~ Beta(alpha, beta)``.
    n_customers_ : int
        Customers in the fitted table (sum of the weights, rounded).

    Notes
    -----
    ``fit`` accepts a duration table (``duration, churned[, weights]``), a mapping with
    ``alive`` (survival counts from ``t = 0``) or with ``lost`` and ``survivors``, or the
    survival counts themselves as a 1-D sequence.

    Examples
    --------
    >>> from corecustomers.models import ShiftedBetaGeoModel
    >>> alive = [1000, 869, 743, 653, 593, 551, 517, 491]  # "high end" cohort, FH 2007
    >>> model = ShiftedBetaGeoModel().fit(alive)
    >>> round(model.params_["alpha"], 3), round(model.params_["beta"], 3)
    (0.668, 3.806)
    """

    _param_names = ("alpha", "beta")

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, X: Any) -> Self:
        """Maximum-likelihood fit of eq. (B3).

        Returns
        -------
        self
        """
        t0, c0, w0 = _duration_columns(X)
        (t, c), w = compress_rows([t0, c0], w0)
        if w.size == 0:
            raise ValueError("the sBG model needs at least one customer with a positive weight")
        if not np.any(c == 1):
            raise ValueError(
                "no customer churned in these data, so churn cannot be estimated "
                "(the likelihood grows without bound as beta -> infinity)"
            )

        def objective(params: FloatArray) -> tuple[float, FloatArray]:
            ll, grad = _log_likelihood(params, t, c, gradient=True)
            return -float(np.dot(w, ll)), -(grad @ w)

        result = fit_positive(
            objective,
            ((1.0, 1.0), (0.5, 3.0), (3.0, 0.5)),
            n_observations=float(w.sum()),
            penalizer=self.penalizer,
            names=self._param_names,
        )
        names = self._param_names
        self.params_ = dict(zip(names, map(float, result.params), strict=True))
        self.standard_errors_ = dict(zip(names, map(float, result.standard_errors), strict=True))
        self.covariance_ = result.covariance
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = round(result.n_observations)
        self.converged_ = result.converged
        for issue in result.warnings:
            issue.warn(stacklevel=2)
        return self

    def _params(self) -> tuple[float, float]:
        self._check_fitted()
        return self.params_["alpha"], self.params_["beta"]

    def log_likelihood(self, X: Any) -> FloatArray:
        """Per-row log-likelihood (the terms of eq. (B3), not multiplied by weights)."""
        t, c, _ = _duration_columns(X)
        ll, _ = _log_likelihood(np.array(self._params()), t, c, gradient=False)
        return ll

    def survival(self, t: Any) -> FloatArray:
        """``S(t) = B(alpha, beta + t) / B(alpha, beta)``: share of a cohort active at ``t``."""
        a, b = self._params()
        ta = np.asarray(t, dtype=np.float64)
        if np.any(ta < 0):
            raise ValueError("t must be non-negative")
        return np.asarray(np.exp(betaln(a, b + ta) - betaln(a, b)))

    def churn_probability(self, t: Any) -> FloatArray:
        """``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, ``t = 1, 2, ...``.

        The share of a new cohort lost at renewal ``t`` (the recursion of eq. (7)).
        """
        a, b = self._params()
        ta = np.asarray(t, dtype=np.float64)
        if np.any(ta < 1):
            raise ValueError("customers are lost at renewals t = 1, 2, ...")
        return np.asarray(np.exp(betaln(a + 1.0, b + ta - 1.0) - betaln(a, b)))

    def retention_rate(self, t: Any) -> FloatArray:
        """``r_t = (beta + t - 1) / (alpha + beta + t - 1)``, eq. (8), ``t = 1, 2, ...``.

        The share of the customers active at ``t - 1`` who renew at ``t``.
        """
        a, b = self._params()
        ta = np.asarray(t, dtype=np.float64)
        if np.any(ta < 1):
            raise ValueError("retention rates are defined for t = 1, 2, ...")
        return np.asarray((b + ta - 1.0) / (a + b + ta - 1.0))

    def probability_alive(self, X: Any) -> FloatArray:
        """Probability of renewing at the next period for each row of a duration table.

        Churned rows give 0; a customer active at ``duration = n`` renews at ``n + 1`` with
        probability ``r_{n+1} = (beta + n) / (alpha + beta + n)``.
        """
        t, c, _ = _duration_columns(X)
        a, b = self._params()
        return np.where(c == 1, 0.0, (b + t) / (a + b + t))

    def discounted_expected_residual_lifetime(
        self, renewals: Any, discount_rate: float
    ) -> FloatArray:
        """DERL: discounted expected number of further payments of an active customer.

        For a customer who has made ``n = renewals`` renewals (active at ``t = n``), the
        expected number of payments from the next renewal on, each discounted by
        ``1 / (1 + d)`` per period and the next one undiscounted (Fader & Hardie 2010,
        DERL with their ``n - 1`` renewals):

        ``DERL(d | n) = sum_{k>=0} S(n+1+k)/S(n) / (1+d)^k
        = (beta+n)/(alpha+beta+n) * 2F1(1, beta+n+1; alpha+beta+n+1; 1/(1+d))``.

        Multiply by the margin per period to get the residual value. With ``d = 0`` it is
        the expected number of further renewals, ``(beta+n)/(alpha-1)``, infinite when
        ``alpha <= 1``.
        """
        a, b = self._params()
        n = np.asarray(renewals, dtype=np.float64)
        if np.any(n < 0):
            raise ValueError("renewals must be non-negative")
        if discount_rate < 0:
            raise ValueError("discount_rate must be non-negative")
        lead = (b + n) / (a + b + n)
        if discount_rate == 0:
            return np.asarray((b + n) / (a - 1.0) if a > 1.0 else np.full_like(n, np.inf))
        z = 1.0 / (1.0 + discount_rate)
        return np.asarray(lead * hyp2f1(1.0, b + n + 1.0, a + b + n + 1.0, z))

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL of a new customer: ``sum_{t>=0} S(t)/(1+d)^t = 2F1(1, beta; alpha+beta; 1/(1+d))``.

        Payments at acquisition (undiscounted) and at each renewal (Fader & Hardie 2010).
        """
        a, b = self._params()
        if discount_rate < 0:
            raise ValueError("discount_rate must be non-negative")
        if discount_rate == 0:
            return (a + b - 1.0) / (a - 1.0) if a > 1.0 else float("inf")
        return float(hyp2f1(1.0, b, a + b, 1.0 / (1.0 + discount_rate)))

    def sample(
        self,
        n_customers: int,
        periods: int,
        *,
        seed: int | np.random.Generator | None = None,
    ) -> dict[str, FloatArray]:
        """Simulate a cohort observed for ``periods`` renewals.

        Returns
        -------
        dict
            A duration table (``duration``, ``churned``; one row per customer) and the
            latent ``theta``; :meth:`fit` accepts it as it is.
        """
        a, b = self._params()
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        theta = rng.beta(a, b, size=n_customers)
        lost_at = rng.geometric(np.clip(theta, 1e-300, 1.0)).astype(np.float64)
        churned = lost_at <= periods
        return {
            "duration": np.where(churned, lost_at, float(periods)),
            "churned": churned.astype(np.float64),
            "theta": theta,
        }

    @classmethod
    def _contract_example(cls) -> dict[str, FloatArray]:
        """A small table this model can fit: the "high end" cohort of FH (2007)."""
        return survival_table([1000, 869, 743, 653, 593, 551, 517, 491])
