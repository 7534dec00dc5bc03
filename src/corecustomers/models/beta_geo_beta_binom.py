"""The beta-geometric/beta-binomial (BG/BB) model of discrete-time repeat buying.

Fader, P. S., Hardie, B. G. S. & Shang, J. (2010), "Customer-Base Analysis in a
Discrete-Time Noncontractual Setting", *Marketing Science* 29(6), 1086-1108.

Each customer has ``n`` transaction opportunities after the first purchase (a yearly
donation drive, a weekly event). While alive the customer transacts at each opportunity
with probability ``p``, ``p ~ Beta(alpha, beta)`` across customers; at the start of each
opportunity a living customer dies with probability ``theta``, ``theta ~ Beta(gamma,
delta)``. A customer is summarised by ``frequency`` (``x``, repeat transactions),
``recency`` (``t_x``, the opportunity of the last one, 0 when ``x = 0``) and ``periods``
(``n``). Identical customers are compressed into ``weights`` (the paper's 11,104 donors
fit in 22 rows).

Equation numbers refer to Fader, Hardie & Shang (2010).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from scipy.special import betaln, digamma, gammaln, polygamma

from corecustomers.models._base import BaseModel, FloatArray, columns
from corecustomers.models._optimize import compress_rows, fit_positive

__all__ = ["BetaGeoBetaBinomModel"]

_PARAMS = ("alpha", "beta", "gamma", "delta")
#: Starting points tried in order (later ones only if an earlier one fails).
_STARTS = ((1.0, 1.0, 1.0, 1.0), (0.5, 0.5, 0.5, 3.0), (3.0, 1.0, 2.0, 10.0))


def _discrete_summary(X: Any) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``frequency, recency, periods`` and weights as validated float arrays.

    ``periods`` may also be given as ``T``: for a discrete-time model the age of a
    customer is the number of opportunities since the first purchase.
    """
    try:
        columns(X, ("periods",))
        age = "periods"
    except ValueError:
        age = "T"
    try:
        cols, w = columns(X, ("frequency", "recency", age), weights="weights")
    except ValueError as exc:
        raise ValueError(
            "BG/BB needs columns frequency, recency and periods (or T): " + str(exc)
        ) from exc
    x, tx, n = cols["frequency"], cols["recency"], cols[age]
    for name, arr in (("frequency", x), ("recency", tx), ("periods", n)):
        if np.any(arr < 0) or np.any(arr != np.round(arr)):
            raise ValueError(
                f"BG/BB needs whole, non-negative {name!r} (counts of transaction "
                "opportunities); round or re-aggregate the data to discrete periods"
            )
    if np.any(x > tx) or np.any(tx > n) or np.any((x == 0) & (tx != 0)):
        raise ValueError(
            "BG/BB needs frequency <= recency <= periods, and recency 0 when frequency is 0"
        )
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    return x, tx, n, w


def _terms(
    params: FloatArray, x: FloatArray, tx: FloatArray, n: FloatArray, *, gradient: bool
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood, eq. (5), and its gradient in the natural parameters.

    ``L = B(a+x, b+n-x)/B(a,b) * B(g, d+n)/B(g,d)
    + sum_{i=0}^{n-t_x-1} B(a+x, b+t_x-x+i)/B(a,b) * B(g+1, d+t_x+i)/B(g,d)``.

    Every term has the form ``lB(a+x, b+m-x) - lB(a,b) + lB(g+c, d+m) - lB(g,d)``; the
    sum is accumulated one opportunity at a time (a streaming log-sum-exp), so memory
    stays O(customers) whatever the number of opportunities.
    """
    a, b, g, d = (float(v) for v in params)
    base = -betaln(a, b) - betaln(g, d)
    dab = digamma(a + b)
    dgd = digamma(g + d)
    da, db, dg, dd = digamma(a), digamma(b), digamma(g), digamma(d)

    def term(m: FloatArray, c: float) -> tuple[FloatArray, FloatArray]:
        log_t = betaln(a + x, b + m - x) + betaln(g + c, d + m) + base
        if not gradient:
            return log_t, np.empty((0, x.size))
        s_ab = digamma(a + b + m)
        s_gd = digamma(g + d + c + m)
        grad = np.stack(
            [
                digamma(a + x) - s_ab - da + dab,
                digamma(b + m - x) - s_ab - db + dab,
                digamma(g + c) - s_gd - dg + dgd,
                digamma(d + m) - s_gd - dd + dgd,
            ]
        )
        return log_t, grad

    log_l, grad_l = term(n, 0.0)
    gap = n - tx
    for i in range(int(gap.max(initial=0.0))):
        active = gap > i
        if not np.any(active):
            break
        log_t, grad_t = term(tx + i, 1.0)
        log_t = np.where(active, log_t, -np.inf)
        new = np.logaddexp(log_l, log_t)
        if gradient:
            w_old = np.exp(log_l - new)
            w_new = np.exp(log_t - new)
            grad_l = grad_l * w_old + np.where(active, grad_t, 0.0) * w_new
        log_l = new
    return log_l, grad_l


def _log_ratio_gamma_diff(g: float, d: float, start: FloatArray, length: FloatArray) -> FloatArray:
    """``d/(g-1) * G(g+d)/G(1+d) * [G(1+d+s)/G(g+d+s) - G(1+d+s+t)/G(g+d+s+t)]``.

    The common factor of eqs. (8) and (13). Written as ``d * exp(lead) * (1 - e^step)
    / (g - 1)`` with ``expm1``; within ``1e-5`` of ``g = 1``, where fraction and bracket
    both vanish, the ratio is replaced by its expansion in ``e = g - 1``,
    ``D1 + e (D2 - D1^2) / 2`` with ``Dk = psi^(k-1)(1+d+s+t) - psi^(k-1)(1+d+s)``.
    """
    lead = gammaln(g + d) - gammaln(1.0 + d) + gammaln(1.0 + d + start) - gammaln(g + d + start)
    eps = g - 1.0
    if abs(eps) < 1e-5:
        a0 = 1.0 + d + start
        d1 = digamma(a0 + length) - digamma(a0)
        d2 = polygamma(1, a0 + length) - polygamma(1, a0)
        ratio = d1 + eps * (d2 - d1 * d1) / 2.0
    else:
        step = (gammaln(1.0 + d + start + length) - gammaln(1.0 + d + start)) - (
            gammaln(g + d + start + length) - gammaln(g + d + start)
        )
        ratio = -np.expm1(step) / eps
    return np.asarray(d * np.exp(lead) * ratio)


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class BetaGeoBetaBinomModel(BaseModel):
    """BG/BB model for repeat transactions at discrete opportunities.

    Parameters
    ----------
    penalizer : float, default 0.0
        Coefficient of the L2 penalty ``penalizer * sum(params**2)`` added to the mean
        negative log-likelihood (lifetimes' ``penalizer_coef``); 0 is plain maximum
        likelihood.

    Attributes
    ----------
    params_ : dict of str to float
        ``alpha, beta`` (transaction probability ``p ~ Beta(alpha, beta)``) and
        ``gamma, delta`` (dropout probability ``theta ~ Beta(gamma, delta)``).
    standard_errors_, covariance_, log_likelihood_, n_customers_, converged_
        As for every model (:class:`~corecustomers.models._base.BaseModel`).

    Notes
    -----
    Input columns: ``frequency``, ``recency``, ``periods`` (or ``T``), optional
    ``weights`` (number of customers sharing the row).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010), "Customer-Base Analysis in a
    Discrete-Time Noncontractual Setting", Marketing Science 29(6), 1086-1108.

    Examples
    --------
    >>> from corecustomers.models import BetaGeoBetaBinomModel
    >>> model = BetaGeoBetaBinomModel()
    >>> model.params_ = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    >>> X = {"frequency": [6.0], "recency": [6.0], "periods": [6.0]}
    >>> round(float(model.probability_alive(X)[0]), 2)
    0.93
    """

    _param_names = _PARAMS

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # -- fitting -------------------------------------------------------------------
    def fit(self, X: Any) -> Self:
        """Maximum-likelihood fit of eq. (5) on ``frequency, recency, periods[, weights]``.

        Returns
        -------
        self
        """
        x0, tx0, n0, w0 = _discrete_summary(X)
        (x, tx, n), w = compress_rows([x0, tx0, n0], w0)
        if w.size == 0:
            raise ValueError("BG/BB needs at least one customer with a positive weight")

        def objective(params: FloatArray) -> tuple[float, FloatArray]:
            ll, grad = _terms(params, x, tx, n, gradient=True)
            return -float(np.dot(w, ll)), -(grad @ w)

        result = fit_positive(
            objective,
            _STARTS,
            n_observations=float(w.sum()),
            penalizer=self.penalizer,
            names=_PARAMS,
        )
        self.params_ = dict(zip(_PARAMS, map(float, result.params), strict=True))
        self.standard_errors_ = dict(zip(_PARAMS, map(float, result.standard_errors), strict=True))
        self.covariance_ = result.covariance
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = round(result.n_observations)
        self.converged_ = result.converged
        for issue in result.warnings:
            issue.warn(stacklevel=2)
        return self

    def _params(self) -> tuple[float, float, float, float]:
        self._check_fitted()
        p = self.params_
        return p["alpha"], p["beta"], p["gamma"], p["delta"]

    def log_likelihood(self, X: Any) -> FloatArray:
        """Per-row log-likelihood, eq. (5) (not multiplied by the weights)."""
        x, tx, n, _ = _discrete_summary(X)
        ll, _ = _terms(np.array(self._params()), x, tx, n, gradient=False)
        return ll

    # -- predictions ---------------------------------------------------------------
    def probability_alive(self, X: Any) -> FloatArray:
        """P(alive at opportunity ``n + 1`` | x, t_x, n), eq. (11).

        ``B(a+x, b+n-x)/B(a,b) * B(g, d+n+1)/B(g,d) / L(a, b, g, d | x, t_x, n)``.
        """
        a, b, g, d = self._params()
        x, tx, n, _ = _discrete_summary(X)
        log_l, _ = _terms(np.array([a, b, g, d]), x, tx, n, gradient=False)
        log_num = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + 1.0) - betaln(g, d)
        return np.clip(np.exp(log_num - log_l), 0.0, 1.0)

    def expected_purchases(self, X: Any, t: float | FloatArray) -> FloatArray:
        """Expected transactions in the next ``t`` opportunities given the history, eq. (13).

        ``E[X(n, n+t) | x, t_x, n] = 1/L * B(a+x+1, b+n-x)/B(a,b) * d/(g-1)
        * G(g+d)/G(1+d) * [G(1+d+n)/G(g+d+n) - G(1+d+n+t)/G(g+d+n+t)]``.

        Parameters
        ----------
        X : table
            ``frequency, recency, periods``.
        t : float or array
            Number of future opportunities (broadcast against the rows of ``X``).
        """
        a, b, g, d = self._params()
        x, tx, n, _ = _discrete_summary(X)
        t_arr = np.asarray(t, dtype=np.float64)
        if np.any(t_arr < 0):
            raise ValueError("t (future opportunities) must be non-negative")
        log_l, _ = _terms(np.array([a, b, g, d]), x, tx, n, gradient=False)
        p_part = np.exp(betaln(a + x + 1.0, b + n - x) - betaln(a, b) - log_l)
        return p_part * _log_ratio_gamma_diff(g, d, n, t_arr)

    def expected_purchases_new(self, t: float | FloatArray) -> FloatArray:
        """Expected transactions of a new customer in ``t`` opportunities, eq. (8).

        ``E[X(t)] = a/(a+b) * d/(g-1) * [1 - G(g+d)/G(g+d+t) * G(1+d+t)/G(1+d)]``.
        """
        a, b, g, d = self._params()
        t_arr = np.asarray(t, dtype=np.float64)
        if np.any(t_arr < 0):
            raise ValueError("t (opportunities) must be non-negative")
        return np.asarray(a / (a + b) * _log_ratio_gamma_diff(g, d, np.zeros_like(t_arr), t_arr))

    def probability_of_purchases(self, x: Any, n: Any) -> FloatArray:
        """P(X(n) = x): probability of ``x`` transactions in ``n`` opportunities, eq. (7).

        ``C(n,x) B(a+x, b+n-x)/B(a,b) B(g, d+n)/B(g,d)
        + sum_{i=x}^{n-1} C(i,x) B(a+x, b+i-x)/B(a,b) B(g+1, d+i)/B(g,d)``.
        Defined for whole numbers ``0 <= x <= n``; ``x`` and ``n`` broadcast.
        """
        a, b, g, d = self._params()
        xa, na = np.broadcast_arrays(
            np.asarray(x, dtype=np.float64), np.asarray(n, dtype=np.float64)
        )
        if (
            np.any(xa < 0)
            or np.any(xa > na)
            or np.any(xa != np.round(xa))
            or np.any(na != np.round(na))
        ):
            raise ValueError("P(X(n) = x) is defined for whole numbers 0 <= x <= n")

        def log_choose(top: FloatArray, k: FloatArray) -> FloatArray:
            return gammaln(top + 1.0) - gammaln(k + 1.0) - gammaln(top - k + 1.0)

        base = -betaln(a, b) - betaln(g, d)
        first = log_choose(na, xa) + betaln(a + xa, b + na - xa) + betaln(g, d + na) + base
        total = np.exp(first)
        top = int(na.max(initial=0.0))
        for i in range(top):
            ok = (i >= xa) & (i < na)
            if not np.any(ok):
                continue
            fi = float(i)
            log_t = (
                log_choose(np.full_like(xa, fi), np.minimum(xa, fi))
                + betaln(a + xa, b + np.maximum(fi - xa, 0.0))
                + betaln(g + 1.0, d + fi)
                + base
            )
            total = total + np.where(ok, np.exp(log_t), 0.0)
        return np.asarray(total)

    def sample(
        self,
        n_customers: int,
        periods: int,
        *,
        seed: int | np.random.Generator | None = None,
    ) -> dict[str, FloatArray]:
        """Simulate customers from the fitted model (the story of section 2).

        Returns
        -------
        dict
            ``frequency, recency, periods`` (one row per customer) and the latent
            ``p``, ``theta`` and ``alive`` (alive after the last opportunity).
        """
        a, b, g, d = self._params()
        rng = _rng(seed)
        p = rng.beta(a, b, size=n_customers)
        theta = rng.beta(g, d, size=n_customers)
        # opportunity at whose start the customer dies (1, 2, ...): geometric(theta)
        death = rng.geometric(np.clip(theta, 1e-300, 1.0))
        opp = np.arange(1, periods + 1)[None, :]
        alive_at = opp < death[:, None]
        buys = alive_at & (rng.random((n_customers, periods)) < p[:, None])
        frequency = buys.sum(axis=1).astype(np.float64)
        recency = np.where(buys, opp, 0).max(axis=1, initial=0).astype(np.float64)
        return {
            "frequency": frequency,
            "recency": recency,
            "periods": np.full(n_customers, float(periods)),
            "p": p,
            "theta": theta,
            "alive": (death > periods).astype(np.float64),
        }

    @classmethod
    def _contract_example(cls) -> dict[str, FloatArray]:
        """A small table this model can fit (for the common contract tests)."""
        truth = cls()
        truth.params_ = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
        return truth.sample(400, 6, seed=0)
