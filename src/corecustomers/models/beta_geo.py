"""The BG/NBD model of repeat buying in continuous time without contracts.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), '"Counting Your Customers" the Easy
Way: An Alternative to the Pareto/NBD Model', *Marketing Science* 24(2), 275-284
(http://brucehardie.com/papers/018/). Equation numbers below refer to that paper.

While active, a customer buys as a Poisson process of rate ``lambda``; after each
*repeat* purchase she becomes inactive with probability ``p``. Across customers
``lambda ~ Gamma(r, alpha)`` (shape, rate) and ``p ~ Beta(a, b)``. A customer is
summarised by ``x`` repeat purchases (``frequency``), the time ``t_x`` of the last one
(``recency``) and the time ``T`` since the first purchase.

* Likelihood, eq. (6):
  ``L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
  + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``,
  evaluated as ``ln L = ln A + softplus(ln(a/(b+x-1)) + (r+x) ln((alpha+T)/(alpha+t_x)))``
  so neither term under- nor overflows for heavy buyers.
* ``E[X(t)]`` for a new customer, eq. (9); ``P(X(t) = n)``, eq. (8).
* ``E[Y(t) | x, t_x, T]``, eq. (10), whose Gauss hypergeometric term is evaluated after
  Euler's transformation (:func:`~corecustomers.models._special.bg_alive_expectation`).
* ``P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``:
  Fader, Hardie & Lee (2008), "Computing P(alive) Using the BG/NBD Model"
  (http://brucehardie.com/notes/021/).

The log-likelihood includes every constant of eq. (6), so ``log_likelihood_`` is on the
scale reported by the paper, lifetimes and the BTYD R package (-9582.4 on CDNOW).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import ClassVar, Final

import numpy as np
from numpy.typing import NDArray
from scipy.special import betainc, betaln, digamma, expit, gammaln

from corecustomers.models._base import FloatArray
from corecustomers.models._special import bg_alive_expectation
from corecustomers.models._transactions import (
    RFMData,
    TransactionModel,
    as_horizon,
    last_of_uniform,
    observation_lengths,
    rng_from,
    transaction_columns,
)

__all__ = ["BetaGeoModel"]

_PARAMS = ("r", "alpha", "a", "b")


def beta_geo_terms(
    params: FloatArray, data: RFMData, *, modified: bool, gradient: bool
) -> tuple[FloatArray, FloatArray | None]:
    """Per-row log-likelihood of the BG/NBD (eq. 6) or MBG/NBD model, with its gradient.

    The two models differ only in whether a customer may drop out right after the first
    purchase: BG/NBD ``ln L = ln A + [x>0] softplus(D)`` with
    ``ln A = ln G(r+x)/G(r) + r ln(alpha/(alpha+T)) - x ln(alpha+T) + ln B(a, b+x)/B(a, b)``
    and ``D = ln a - ln(b+x-1) + (r+x) ln((alpha+T)/(alpha+t_x))``; MBG/NBD (Batislam et
    al. 2007) uses ``B(a, b+x+1)``, ``ln(b+x)`` in ``D`` and no ``[x>0]``.

    Returns
    -------
    ll : ndarray, shape (n_rows,)
    grad : ndarray, shape (4, n_rows), or None
        Partial derivatives with respect to ``(r, alpha, a, b)``.
    """
    r, alpha, a, b = (float(v) for v in params)
    shift = 1.0 if modified else 0.0
    xv, xi = data.x_values
    x, tx, T, gap = data.x, data.tx, data.T, data.gap

    # terms that depend on x only: once per distinct frequency
    lg_x = gammaln(r + xv) - gammaln(r) + betaln(a, b + xv + shift) - betaln(a, b)
    # ln(b + x - 1) (BG) or ln(b + x) (MBG); unused (0) where the death term is absent
    bx = np.where(xv + shift > 0, b + xv + shift - 1.0, 1.0)
    lbx = np.log(bx)
    log_alpha_T = np.log(alpha + T)
    log1p_T = np.log1p(T / alpha)
    log_ratio = np.log1p(gap / (alpha + tx))  # ln((alpha+T)/(alpha+t_x))
    base = lg_x[xi] - r * log1p_T - x * log_alpha_T
    has_death_term = np.ones(x.size, dtype=bool) if modified else x > 0
    D = np.where(has_death_term, math.log(a) - lbx[xi] + (r + x) * log_ratio, -np.inf)
    # softplus(D) and expit(D) from one exponential, exp(-|D|), stable for any D
    e = np.exp(-np.abs(D))
    ll = base + np.maximum(D, 0.0) + np.log1p(e)
    if not gradient:
        return ll, None

    pi = np.where(D >= 0.0, 1.0, e) / (1.0 + e)  # weight of the death term, 1 - P(alive)
    dig_x = digamma(r + xv) - digamma(r)
    dig_ab = digamma(a + b)
    dig_abx = digamma(a + b + xv + shift)
    db_x = digamma(b + xv + shift) - digamma(b) + dig_ab - dig_abx
    inv_bx = 1.0 / bx
    grad = np.empty((4, x.size))
    grad[0] = dig_x[xi] - log1p_T + pi * log_ratio
    inv_aT = 1.0 / (alpha + T)
    inv_atx = 1.0 / (alpha + tx)
    grad[1] = r / alpha - (r + x) * inv_aT + pi * (r + x) * (inv_aT - inv_atx)
    grad[2] = (dig_ab - dig_abx)[xi] + pi / a
    grad[3] = db_x[xi] - pi * inv_bx[xi]
    return ll, grad


def log_odds_dead(
    params: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray, *, modified: bool
) -> FloatArray:
    """``ln[(1 - P(alive)) / P(alive)]`` (FHL 2008 note 021; Batislam et al. 2007 app. A)."""
    r, alpha, a, b = (float(v) for v in params)
    shift = 1.0 if modified else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        D = np.log(a) - np.log(b + x + shift - 1.0) + (r + x) * np.log1p((T - tx) / (alpha + tx))
    if not modified:
        D = np.where(x > 0, D, -np.inf)
    return np.asarray(D)


def conditional_expectation(
    params: FloatArray,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,
    t: FloatArray,
    *,
    modified: bool,
) -> FloatArray:
    """``E[Y(t) | x, t_x, T]``: FHL (2005) eq. (10) / Wagner & Hoppe (2008) for the MBG/NBD.

    ``(C/(a-1)) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+s; C; t/(alpha+T+t))]
    * P(alive)`` with ``C = a+b+x-1+s`` and ``s = 1`` for the MBG/NBD model.
    """
    x, tx, T, t = np.broadcast_arrays(x, tx, T, t)
    # the expectation given alive depends on (x, T, t) only, not on t_x: many customers
    # share those (whole purchase counts, ages in whole days), so each distinct triple is
    # computed once -- the series are evaluated element by element, so the values are
    # the very same bits
    (x_u, T_u, t_u), back = _distinct_rows(x, T, t)
    alive = _expectation_if_alive(params, x_u, T_u, t_u, modified=modified)
    if back is not None:
        alive = alive[back].reshape(x.shape)
    p_alive = expit(-log_odds_dead(params, x, tx, T, modified=modified))
    return np.asarray(alive * p_alive)


def conditional_expectations(
    params: FloatArray,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,
    horizons: Sequence[float],
    *,
    modified: bool,
) -> Iterator[FloatArray]:
    """:func:`conditional_expectation` of the rows ``x, tx, T`` (1-d) for each horizon.

    The same numbers, bit for bit, with ``P(alive)`` and the distinct ``(x, T)`` computed
    once instead of once per horizon.
    """
    p_alive = expit(-log_odds_dead(params, x, tx, T, modified=modified))
    grouped = _distinct_pairs(x, T)
    for t in horizons:
        if grouped is None:
            alive = _expectation_if_alive(params, x, T, np.full(x.shape, t), modified=modified)
        else:
            x_u, T_u, back = grouped
            alive = _expectation_if_alive(
                params, x_u, T_u, np.full(x_u.shape, t), modified=modified
            )[back]
        yield np.asarray(alive * p_alive)


def _expectation_if_alive(
    params: FloatArray, x: FloatArray, T: FloatArray, t: FloatArray, *, modified: bool
) -> FloatArray:
    """``E[Y(t) | x, t_x, T]`` of a customer still alive (it does not depend on ``t_x``)."""
    r, alpha, a, b = (float(v) for v in params)
    b_post = b + x + (1.0 if modified else 0.0)  # posterior Beta(a, b') of the dropout
    log1mz = -np.log1p(t / (alpha + T))
    return np.asarray(bg_alive_expectation(r, a, b_post, r + x, a + b_post - 1.0, log1mz))


_DISTINCT_FROM: Final = 4096
"""From this many rows :func:`conditional_expectation` finds the distinct (x, T, t) first."""


def _distinct_rows(
    x: FloatArray, T: FloatArray, t: FloatArray
) -> tuple[tuple[FloatArray, FloatArray, FloatArray], NDArray[np.intp] | None]:
    """The distinct rows of ``(x, T, t)`` and, per row, its position among them; the
    arrays themselves and None when they are small, ``t`` varies, or a value is not
    finite (then no grouping is attempted).

    >>> rows, back = _distinct_rows(np.array([1.0, 2.0, 1.0]), np.array([5.0, 5.0, 5.0]),
    ...                             np.array([2.0, 2.0, 2.0]))
    >>> rows[0].tolist(), rows[1].tolist(), back
    ([1.0, 2.0, 1.0], [5.0, 5.0, 5.0], None)
    """
    ts = np.asarray(t, dtype=np.float64).ravel()
    if ts.size == 0 or np.any(ts != ts[0]) or not np.isfinite(ts[0]):
        return (x, T, t), None
    grouped = _distinct_pairs(x, T)
    if grouped is None:
        return (x, T, t), None
    x_u, T_u, back = grouped
    return (x_u, T_u, np.full(x_u.size, ts[0])), back


def _distinct_pairs(
    x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, NDArray[np.intp]] | None:
    """The distinct pairs ``(x, T)`` and, per row, the position of its pair; None when
    there are fewer than ``_DISTINCT_FROM`` rows or a value is not finite."""
    xs = np.asarray(x, dtype=np.float64).ravel()
    Ts = np.asarray(T, dtype=np.float64).ravel()
    if xs.size < _DISTINCT_FROM or not (np.all(np.isfinite(xs)) and np.all(np.isfinite(Ts))):
        return None
    # one sort of complex numbers orders by (x, T); + 0.0 makes -0.0 and 0.0 one value
    key = (xs + 0.0) + 1j * (Ts + 0.0)
    unique, back = np.unique(key, return_inverse=True)
    return unique.real.copy(), unique.imag.copy(), back.ravel()


def probability_of_purchases(
    params: FloatArray, n: FloatArray, t: FloatArray, *, modified: bool
) -> FloatArray:
    """``P(X(t) = n)`` for a new customer: FHL (2005) eq. (8) / its MBG analogue.

    ``B(a, b+n+s)/B(a,b) NB(n; r, alpha/(alpha+t))
    + [n>0 or s=1] B(a+1, b+n-1+s)/B(a,b) P(NB >= n)`` with the negative-binomial
    tail ``P(NB >= n) = I_{t/(alpha+t)}(n, r)`` (regularised incomplete beta).
    """
    r, alpha, a, b = (float(v) for v in params)
    shift = 1.0 if modified else 0.0
    n, t = np.broadcast_arrays(np.asarray(n, dtype=np.float64), t)
    if np.any(n < 0) or np.any(n != np.round(n)):
        raise ValueError("n must be a whole number of transactions >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.where(t > 0, np.log(t) - np.log(alpha + t), -np.inf)
        log_nb = (
            gammaln(r + n)
            - gammaln(r)
            - gammaln(n + 1.0)
            - r * np.log1p(t / alpha)
            + np.where(n > 0, n * log_q, 0.0)
        )
        first = np.exp(betaln(a, b + n + shift) - betaln(a, b) + log_nb)
        q = np.exp(log_q)
        tail = np.where(n > 0, betainc(np.maximum(n, 1.0), r, q), 1.0)
        death = np.exp(betaln(a + 1.0, b + n - 1.0 + shift) - betaln(a, b)) * tail
        second = np.where((n > 0) | modified, death, 0.0)
    return np.asarray(first + second)


def simulate(
    params: FloatArray, T: FloatArray, rng: np.random.Generator, *, modified: bool
) -> dict[str, FloatArray]:
    """Customers drawn from the story of FHL (2005) section 3 (or its MBG variant)."""
    r, alpha, a, b = (float(v) for v in params)
    n = T.size
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = np.clip(rng.beta(a, b, n), 1e-12, 1.0)
    # repeat purchases made before dropping out: geometric on 1, 2, ... (BG/NBD) or on
    # 0, 1, ... (MBG/NBD, which lets the customer drop out right after the first purchase)
    survive = rng.geometric(p).astype(np.float64) - (1.0 if modified else 0.0)
    would_buy = rng.poisson(lam * T).astype(np.float64)
    x = np.minimum(survive, would_buy)
    recency = last_of_uniform(rng, T, x, would_buy)
    return {
        "frequency": x,
        "recency": recency,
        "T": T.copy(),
        "lambda": lam,
        "p": p,
        "alive": (would_buy < survive).astype(np.float64),
    }


def default_starts(data: RFMData) -> list[list[float]]:
    """Starting points scaled to the data's time unit: ``E[lambda] = r/alpha`` = mean rate."""
    w = data.w
    rate = float(np.dot(w, data.x) + 1.0) / float(np.dot(w, data.T) + 1.0)
    return [
        [1.0, 1.0 / rate, 1.0, 3.0],
        [0.5, 0.5 / rate, 0.7, 2.5],
        [2.0, 2.0 / rate, 2.0, 2.0],
        [0.2, 0.2 / rate, 3.0, 10.0],
    ]


class BetaGeoFamily(TransactionModel):
    """Predictions shared by the BG/NBD and MBG/NBD models (``_modified`` switches)."""

    _param_names = _PARAMS
    _modified: bool = False
    _example_params: ClassVar[dict[str, float]] = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}

    # -- predictions ---------------------------------------------------------------
    def probability_alive(self, X: object) -> FloatArray:
        """``P(alive | x, t_x, T)``: the probability the customer has not dropped out.

        BG/NBD: FHL (2008) note 021, 1 for customers without repeat purchases; MBG/NBD:
        Batislam et al. (2007), appendix A, eq. (5).
        """
        x, tx, T, _ = transaction_columns(X)
        return np.asarray(expit(-log_odds_dead(self._theta(), x, tx, T, modified=self._modified)))

    def expected_purchases(self, X: object, t: float | Sequence[float] | FloatArray) -> FloatArray:
        """Expected repeat purchases in ``(T, T + t]`` given the history.

        FHL (2005) eq. (10) for the BG/NBD; Wagner & Hoppe (2008), "Erratum on the MBG/NBD
        Model", *IJRM* 25(3), 225-226, for the MBG/NBD.

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
        x, tx, T, _ = transaction_columns(X)
        return conditional_expectation(
            self._theta(), x, tx, T, as_horizon(t), modified=self._modified
        )

    def expected_purchases_over(
        self, X: object, horizons: Sequence[float] | FloatArray
    ) -> Iterator[FloatArray]:
        """:meth:`expected_purchases` of ``X`` for each horizon in turn: the same numbers,
        with ``X`` validated, the distinct ``(frequency, T)`` found and ``P(alive)``
        computed once."""
        x, tx, T, _ = transaction_columns(X)
        steps = [float(as_horizon(t)) for t in horizons]
        return conditional_expectations(self._theta(), x, tx, T, steps, modified=self._modified)

    def expected_purchases_new(self, t: float | Sequence[float] | FloatArray) -> FloatArray:
        """``E[X(t)]``: expected repeat purchases of a customer just acquired, FHL eq. (9).

        Equal to :meth:`expected_purchases` at ``x = t_x = T = 0``.
        """
        t_arr = as_horizon(t)
        zero = np.zeros_like(t_arr)
        return conditional_expectation(
            self._theta(), zero, zero, zero, t_arr, modified=self._modified
        )

    def probability_of_purchases(
        self, n: int | Sequence[int] | FloatArray, t: float | Sequence[float] | FloatArray
    ) -> FloatArray:
        """``P(X(t) = n)``: ``n`` repeat purchases by a new customer in ``(0, t]``.

        FHL (2005) eq. (8); ``n`` and ``t`` broadcast.
        """
        return probability_of_purchases(
            self._theta(), np.asarray(n, dtype=np.float64), as_horizon(t), modified=self._modified
        )

    def sample(
        self,
        n_customers: int,
        T: float | Sequence[float] | FloatArray,
        *,
        seed: int | np.random.Generator | None = None,
    ) -> dict[str, FloatArray]:
        """Simulate ``n_customers`` from the fitted model over observation lengths ``T``.

        Parameters
        ----------
        n_customers : int
        T : float or array of length ``n_customers``
            Time from each customer's first purchase to the end of observation.
        seed : int or numpy Generator, optional

        Returns
        -------
        dict of arrays
            ``frequency, recency, T`` (ready for :meth:`fit`) and the latent
            ``lambda``, ``p`` and ``alive`` (1.0 when still active at ``T``).
        """
        return simulate(
            self._theta(),
            observation_lengths(n_customers, T),
            rng_from(seed),
            modified=self._modified,
        )

    @staticmethod
    def _starts(data: RFMData) -> list[list[float]]:
        return default_starts(data)


class BetaGeoModel(BetaGeoFamily):
    """BG/NBD model (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    penalizer : float, default 0.0
        Coefficient of the L2 penalty ``penalizer * sum(params**2)`` added to the mean
        negative log-likelihood (lifetimes' ``penalizer_coef``); 0 is plain maximum
        likelihood.

    Attributes
    ----------
    params_ : dict
        ``r, alpha`` (gamma shape and rate of the purchase rate), ``a, b`` (beta
        parameters of the dropout probability).
    standard_errors_ : dict
        Asymptotic standard errors (inverse observed information, delta method).
    covariance_ : ndarray of shape (4, 4)
    log_likelihood_ : float
        Unpenalised total log-likelihood, eq. (6) summed over customers.
    n_customers_ : int
    converged_ : bool

    Examples
    --------
    >>> from corecustomers.models.beta_geo import BetaGeoModel
    >>> truth = BetaGeoModel.from_dict(
    ...     {"params": {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}})
    >>> data = truth.sample(5000, 39.0, seed=1)
    >>> model = BetaGeoModel().fit(data)
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    >>> float(model.expected_purchases_new(0.0)[()])
    0.0
    """

    _modified = False

    @staticmethod
    def _terms(
        params: FloatArray, data: RFMData, *, gradient: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        return beta_geo_terms(params, data, modified=False, gradient=gradient)
