"""The Pareto/NBD model of repeat buying in continuous time without contracts.

Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987), "Counting Your Customers: Who
Are They and What Will They Do Next?", *Management Science* 33(1), 1-24. Expressions
follow Fader, P. S. & Hardie, B. G. S. (2005), "A Note on Deriving the Pareto/NBD Model
and Related Expressions" (http://brucehardie.com/notes/009/); equation numbers below
refer to that note.

While active a customer buys as a Poisson process of rate ``lambda``; she stays active
for an exponential time of rate ``mu``. Across customers ``lambda ~ Gamma(r, alpha)`` and
``mu ~ Gamma(s, beta)`` (shape, rate), independently.

* Likelihood, eq. (18): ``L = G(r+x) alpha^r beta^s / G(r) * [ (alpha+T)^-(r+x)
  (beta+T)^-s + s/(r+s+x) A_0 ]`` with ``A_0 = (r+s+x) [G(t_x) - G(T)]`` and
  ``G(y) = int_y^inf (alpha+t)^-(r+x) (beta+t)^-(s+1) dt`` (eqs. (19)-(20), which write
  ``G`` with a Gauss hypergeometric function whose branch depends on the sign of
  ``alpha - beta``). ``G`` is evaluated through Euler's transformation as
  ``(alpha+y)^-(r+x) (beta+y)^-s k(y) 2F1(1, d; r+s+x+1; z) / (r+s+x)``
  (:func:`~corecustomers.models._special.log_h1`), so the log-likelihood, its analytic
  gradient and ``P(alive)`` stay finite and accurate for customers with thousands of
  purchases, where the textbook form overflows.
* ``P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A_0)``,
  section 5.1, eqs. (36)-(37).
* ``E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]``, eq. (27).
* ``E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1))
  [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive)``, eq. (41); both are continuous at
  ``s = 1``, where the bracket over ``s - 1`` becomes a logarithm.
* ``P(X(t) = n)``: from the model's story (Fader & Hardie 2006, "Deriving an Expression
  for P(X(t) = x) Under the Pareto/NBD Model", http://brucehardie.com/notes/012/), as a
  one-dimensional integral evaluated by adaptive quadrature.

The log-likelihood keeps every constant of eq. (18), as lifetimes and the BTYD R package
do (-9594.98 on CDNOW).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

import numpy as np
from scipy.integrate import quad
from scipy.special import digamma, expit, gammaln

from corecustomers.models._base import FloatArray
from corecustomers.models._special import expm1_ratio, log1mexp, log_h1
from corecustomers.models._transactions import (
    RFMData,
    TransactionModel,
    as_horizon,
    observation_lengths,
    rng_from,
    transaction_columns,
)

__all__ = ["ParetoNBDModel"]

_PARAMS = ("r", "alpha", "s", "beta")


def _log_tail(
    params: FloatArray, x: FloatArray, y: FloatArray, *, gradient: bool
) -> tuple[FloatArray, FloatArray | None]:
    """``ln[G(y) (alpha+y)^(r+x) (beta+y)^s]`` and its gradient in ``(r, alpha, s, beta)``.

    With ``c = r+s+x+1``: for ``alpha >= beta``, ``d = r+x``, ``z = (alpha-beta)/(alpha+y)``
    and ``k = 1``; otherwise ``d = s+1``, ``z = (beta-alpha)/(beta+y)`` and
    ``k = (alpha+y)/(beta+y) = 1 - z``. Then ``G(y) (alpha+y)^(r+x) (beta+y)^s =
    k 2F1(1, d; c; z) / (r+s+x)`` -- Euler's transformation of the note's eqs. (19)-(20).
    """
    r, alpha, s, beta = (float(v) for v in params)
    rsx = r + s + x
    c = rsx + 1.0
    if alpha >= beta:
        z = (alpha - beta) / (alpha + y)
        log_h, h_d, h_c, h_z = log_h1(r + x, c, z, derivatives=gradient)
        log_k = np.zeros_like(z)
    else:
        z = (beta - alpha) / (beta + y)
        log_h, h_d, h_c, h_z = log_h1(s + 1.0, c, z, derivatives=gradient)
        log_k = np.log1p(-z)
    value = log_k + log_h - np.log(rsx)
    if not gradient:
        return value, None
    grad = np.empty((4, x.size))
    inv_rsx = 1.0 / rsx
    if alpha >= beta:
        grad[0] = h_d + h_c - inv_rsx
        grad[1] = h_z * (beta + y) / (alpha + y) ** 2
        grad[2] = h_c - inv_rsx
        grad[3] = -h_z / (alpha + y)
    else:
        grad[0] = h_c - inv_rsx
        grad[1] = 1.0 / (alpha + y) - h_z / (beta + y)
        grad[2] = h_d + h_c - inv_rsx
        grad[3] = -1.0 / (beta + y) + h_z * (alpha + y) / (beta + y) ** 2
    return value, grad


def _log_r(
    params: FloatArray, data: RFMData, *, gradient: bool
) -> tuple[FloatArray, FloatArray | None]:
    """``ln R`` with ``R = s [G(t_x) - G(T)] (alpha+T)^(r+x) (beta+T)^s`` (and gradient).

    ``R = s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A_0`` is the odds of having dropped out,
    eqs. (36)-(37); ``ln L = ln G(r+x)/G(r) + ln[(alpha/(alpha+T))^r (beta/(beta+T))^s
    (alpha+T)^-x] + ln(1 + R)``.
    """
    r, alpha, s, beta = (float(v) for v in params)
    x, tx, gap = data.x, data.tx, data.gap
    px, py, pidx = data.pairs("tx")
    qx, qy, qidx = data.pairs("T")
    g_tx, dg_tx = _log_tail(params, px, py, gradient=gradient)
    g_T, dg_T = _log_tail(params, qx, qy, gradient=gradient)
    lr_a = np.log1p(gap / (alpha + tx))  # ln((alpha+T)/(alpha+t_x))
    lr_b = np.log1p(gap / (beta + tx))  # ln((beta+T)/(beta+t_x))
    u = r + x
    log_big = u * lr_a + s * lr_b + g_tx[pidx]  # ln[G(t_x)/F], F = (alpha+T)^-u (beta+T)^-s
    log_small = g_T[qidx]  # ln[G(T)/F]
    diff = np.minimum(log_small - log_big, 0.0)
    log_r = np.log(s) + log_big + log1mexp(diff)
    if not gradient:
        return log_r, None
    if dg_tx is None or dg_T is None:
        raise RuntimeError("the gradient terms were not computed with gradient=True")
    d_big = dg_tx[:, pidx]
    d_big[0] += lr_a
    d_big[1] += u * (1.0 / (alpha + data.T) - 1.0 / (alpha + tx))
    d_big[2] += lr_b
    d_big[3] += s * (1.0 / (beta + data.T) - 1.0 / (beta + tx))
    d_small = dg_T[:, qidx]
    rho = np.exp(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = (d_big - rho * d_small) / (-np.expm1(diff))
    grad = np.where(np.isfinite(log_r), grad, 0.0)
    grad[2] += 1.0 / s
    return log_r, grad


def pareto_terms(
    params: FloatArray, data: RFMData, *, gradient: bool
) -> tuple[FloatArray, FloatArray | None]:
    """Per-row log-likelihood, eq. (18), and its gradient in ``(r, alpha, s, beta)``."""
    r, alpha, s, beta = (float(v) for v in params)
    xv, xi = data.x_values
    x, T = data.x, data.T
    log1p_a = np.log1p(T / alpha)
    log1p_b = np.log1p(T / beta)
    base = (gammaln(r + xv) - gammaln(r))[xi] - r * log1p_a - x * np.log(alpha + T) - s * log1p_b
    log_r, d_log_r = _log_r(params, data, gradient=gradient)
    ll = base + np.logaddexp(0.0, log_r)
    if not gradient:
        return ll, None
    if d_log_r is None:
        raise RuntimeError("_log_r gave no gradient with gradient=True")
    pi = expit(log_r)
    grad = pi * d_log_r
    grad[0] += (digamma(r + xv) - digamma(r))[xi] - log1p_a
    grad[1] += r / alpha - (r + x) / (alpha + T)
    grad[2] -= log1p_b
    grad[3] += s / beta - s / (beta + T)
    return ll, grad


class ParetoNBDModel(TransactionModel):
    """Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

    Parameters
    ----------
    penalizer : float, default 0.0
        Coefficient of the L2 penalty ``penalizer * sum(params**2)`` added to the mean
        negative log-likelihood (lifetimes' ``penalizer_coef``); 0 is plain maximum
        likelihood.

    Attributes
    ----------
    params_ : dict
        ``r, alpha`` (gamma shape and rate of the purchase rate ``lambda``), ``s, beta``
        (gamma shape and rate of the dropout rate ``mu``).
    standard_errors_ : dict
        Asymptotic standard errors (inverse observed information, delta method).
    covariance_ : ndarray of shape (4, 4)
    log_likelihood_ : float
        Unpenalised total log-likelihood, eq. (18) summed over customers.
    n_customers_ : int
    converged_ : bool

    Examples
    --------
    >>> from corecustomers.models.pareto_nbd import ParetoNBDModel
    >>> m = ParetoNBDModel.from_dict(
    ...     {"params": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}})
    >>> heavy = {"frequency": [3000], "recency": [38.0], "T": [39.0]}
    >>> bool(np.isfinite(m.log_likelihood(heavy)[0]))
    True
    >>> round(float(m.probability_alive({"frequency": [0], "recency": [0.0], "T": [0.0]})[0]), 6)
    1.0
    """

    _param_names = _PARAMS
    # (400 customers from the CDNOW estimates happen to put the MLE on the s, beta -> inf
    # ridge; these identify all four parameters)
    _example_params: ClassVar[dict[str, float]] = {"r": 1.0, "alpha": 5.0, "s": 0.5, "beta": 5.0}

    @staticmethod
    def _terms(
        params: FloatArray, data: RFMData, *, gradient: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        return pareto_terms(params, data, gradient=gradient)

    @staticmethod
    def _starts(data: RFMData) -> list[list[float]]:
        w = data.w
        rate = float(np.dot(w, data.x) + 1.0) / float(np.dot(w, data.T) + 1.0)
        age = max(float(np.dot(w, data.T) / w.sum()), 1e-6)
        return [
            [1.0, 1.0 / rate, 1.0, age],
            [0.5, 0.5 / rate, 0.5, 0.5 * age],
            [2.0, 2.0 / rate, 2.0, 4.0 * age],
            [0.2, 0.2 / rate, 0.2, 0.1 * age],
        ]

    # -- predictions ---------------------------------------------------------------
    def probability_alive(self, X: object) -> FloatArray:
        """``P(alive | x, t_x, T)``, eqs. (36)-(37): ``1 / (1 + R)``, as ``expit(-ln R)``."""
        data = RFMData.from_table(X, compress=False)
        log_r, _ = _log_r(self._theta(), data, gradient=False)
        return np.asarray(expit(-log_r))

    def expected_purchases(self, X: object, t: float | Sequence[float] | FloatArray) -> FloatArray:
        """Expected purchases in ``(T, T + t]`` given the history, eq. (41).

        Parameters
        ----------
        X : table
            ``frequency, recency, T``.
        t : float or array
            Length of the future period, in the unit of ``T``; broadcast against rows.

        Returns
        -------
        ndarray
        """
        x, _, T, _ = transaction_columns(X)
        return self._expected_if(x, T, as_horizon(t), self.probability_alive(X))

    def expected_purchases_over(
        self, X: object, horizons: Sequence[float] | FloatArray
    ) -> Iterator[FloatArray]:
        """:meth:`expected_purchases` of ``X`` for each horizon in turn: the same numbers,
        with ``X`` validated and ``P(alive)`` computed once."""
        x, _, T, _ = transaction_columns(X)
        p_alive = self.probability_alive(X)
        for t in horizons:
            yield self._expected_if(x, T, as_horizon(t), p_alive)

    def _expected_if(
        self, x: FloatArray, T: FloatArray, t: FloatArray, p_alive: FloatArray
    ) -> FloatArray:
        """Eq. (41) from the customers' ``P(alive)``."""
        r, alpha, s, beta = (float(v) for v in self._theta())
        x, T, t, p_alive = np.broadcast_arrays(x, T, t, p_alive)
        bracket = -expm1_ratio(s - 1.0, -np.log1p(t / (beta + T)))
        return np.asarray((r + x) * (beta + T) / (alpha + T) * bracket * p_alive)

    def expected_purchases_new(self, t: float | Sequence[float] | FloatArray) -> FloatArray:
        """``E[X(t)]`` for a customer just acquired, eq. (27)."""
        r, alpha, s, beta = (float(v) for v in self._theta())
        t_arr = as_horizon(t)
        return np.asarray(r * beta / alpha * -expm1_ratio(s - 1.0, -np.log1p(t_arr / beta)))

    def probability_of_purchases(
        self, n: int | Sequence[int] | FloatArray, t: float | Sequence[float] | FloatArray
    ) -> FloatArray:
        """``P(X(t) = n)``: ``n`` purchases by a new customer in ``(0, t]``.

        ``(beta/(beta+t))^s NB(n; r, alpha/(alpha+t))`` (still alive at ``t``) plus the
        probability of ``n`` purchases before a dropout at ``tau < t``:
        ``G(r+n)/(G(r) n!) s alpha beta^s int_0^(t/(alpha+t)) w^n (1-w)^(r+s-1)
        (beta + (alpha-beta) w)^-(s+1) dw`` (substituting ``w = tau/(alpha+tau)`` in
        Fader & Hardie's note 012 integral), evaluated by adaptive quadrature.
        """
        r, alpha, s, beta = (float(v) for v in self._theta())
        n_arr, t_arr = np.broadcast_arrays(np.asarray(n, dtype=np.float64), as_horizon(t))
        if np.any(n_arr < 0) or np.any(n_arr != np.round(n_arr)):
            raise ValueError("n must be a whole number of purchases >= 0")
        out = np.empty(n_arr.shape)
        for idx in np.ndindex(n_arr.shape):
            out[idx] = _pmf_one(r, alpha, s, beta, float(n_arr[idx]), float(t_arr[idx]))
        return out

    def sample(
        self,
        n_customers: int,
        T: float | Sequence[float] | FloatArray,
        *,
        seed: int | np.random.Generator | None = None,
    ) -> dict[str, FloatArray]:
        """Simulate ``n_customers`` from the fitted model over observation lengths ``T``.

        Returns
        -------
        dict of arrays
            ``frequency, recency, T`` (ready for :meth:`fit`) and the latent ``lambda``,
            ``mu`` and ``alive`` (1.0 when still active at ``T``).
        """
        r, alpha, s, beta = (float(v) for v in self._theta())
        T_arr = observation_lengths(n_customers, T)
        rng = rng_from(seed)
        lam = rng.gamma(r, 1.0 / alpha, n_customers)
        mu = rng.gamma(s, 1.0 / beta, n_customers)
        lifetime = rng.exponential(1.0, n_customers) / np.maximum(mu, 1e-300)
        window = np.minimum(lifetime, T_arr)
        x = rng.poisson(lam * window).astype(np.float64)
        recency = np.zeros(n_customers)
        pos = x > 0
        recency[pos] = window[pos] * rng.beta(x[pos], 1.0)
        return {
            "frequency": x,
            "recency": recency,
            "T": T_arr.copy(),
            "lambda": lam,
            "mu": mu,
            "alive": (lifetime > T_arr).astype(np.float64),
        }


def _pmf_one(r: float, alpha: float, s: float, beta: float, n: float, t: float) -> float:
    """``P(X(t) = n)`` for one ``(n, t)``; see :meth:`ParetoNBDModel.probability_of_purchases`."""
    if t == 0.0:
        return 1.0 if n == 0 else 0.0
    log_nb_coef = gammaln(r + n) - gammaln(r) - gammaln(n + 1.0)
    q = t / (alpha + t)
    alive = np.exp(-s * np.log1p(t / beta) + log_nb_coef - r * np.log1p(t / alpha) + n * np.log(q))
    log_const = log_nb_coef + np.log(s) + np.log(alpha) + s * np.log(beta)

    def integrand(w: float) -> float:
        if w <= 0.0:
            return 0.0 if n > 0 else float(np.exp(log_const - (s + 1.0) * np.log(beta)))
        return float(
            np.exp(
                log_const
                + n * np.log(w)
                + (r + s - 1.0) * np.log1p(-w)
                - (s + 1.0) * np.log(beta + (alpha - beta) * w)
            )
        )

    # the integrand peaks near w = n / (n + r + s - 1): tell quad where to look
    peak = min(max(n / (n + r + s), 0.0), q)
    points = [peak] if 0.0 < peak < q else None
    dropped, _ = quad(integrand, 0.0, q, points=points, epsabs=0.0, epsrel=1e-11, limit=200)
    return float(alive + dropped)
