"""The gamma-gamma model of average spend per transaction.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415-430, section
"Adding monetary value"; the derivation and the CDNOW estimates are in Fader, P. S. &
Hardie, B. G. S. (2013), "The Gamma-Gamma Model of Monetary Value",
http://brucehardie.com/notes/025/.

The value ``z`` of each transaction of a customer is ``Gamma(p, nu)``; across customers
``nu ~ Gamma(q, gamma)``. A customer with ``x`` transactions of mean value ``m`` has the
likelihood of eq. (1a) of the note. The model assumes that spend per transaction is
independent of the number of transactions; :attr:`GammaGammaModel.spend_frequency_correlation_`
records how far the data bear that out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Self

import numpy as np
from scipy.special import digamma, gammaln

from corecustomers.models._base import BaseModel, FloatArray, columns
from corecustomers.models._optimize import (
    BoundaryWarning,
    compress_rows,
    fit_positive,
    start_vector,
)
from corecustomers.models._warnings import FitWarning

__all__ = ["GammaGammaModel", "SpendFrequencyCorrelationWarning"]

logger = logging.getLogger(__name__)

#: |Pearson correlation| between frequency and spend above which ``fit`` warns.
CORRELATION_WARNING_THRESHOLD = 0.3
#: A fitted ``q - 1`` below this is taken as the boundary ``q = 1`` (the likelihood is
#: flat in ``log(q - 1)`` there, so the optimiser may stop anywhere below it).
Q_BOUND = 1e-6


class SpendFrequencyCorrelationWarning(UserWarning):
    """Spend per transaction is correlated with the number of transactions.

    The gamma-gamma model assumes the two are independent; with a strong correlation its
    expected spend (and any CLV built on it) is biased. Consider segmenting customers or
    modelling spend jointly with frequency.
    """


def _spend_columns(X: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    cols, w = columns(X, ("frequency", "monetary_value"), weights="weights")
    x, m = cols["frequency"], cols["monetary_value"]
    if np.any(x < 0):
        raise ValueError("frequency must be non-negative")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    return x, m, w


def _log_likelihood(
    params: FloatArray, x: FloatArray, m: FloatArray, *, gradient: bool
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood of the mean spend ``m`` of ``x`` transactions, eq. (1a).

    ``ln f = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln m + px ln x
    - (px+q) ln(gamma + m x)``; gradient in the natural parameters ``(p, q, gamma)``.
    """
    p, q, g = (float(v) for v in params)
    px = p * x
    log_gm = np.log(g + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_gm
    )
    if not gradient:
        return ll, np.empty((0, x.size))
    d_pxq = digamma(px + q)
    grad = np.stack(
        [
            x * (d_pxq - digamma(px) + np.log(m) + np.log(x) - log_gm),
            d_pxq - digamma(q) + np.log(g) - log_gm,
            q / g - (px + q) / (g + m * x),
        ]
    )
    return ll, grad


#: Lower bounds of ``(p, q, gamma)``: the optimiser works on ``log(q - 1)``.
_LOWER = (0.0, 1.0, 0.0)
#: The parameters as the optimiser sees them, so that a boundary warning reads right.
_OPTIMISER_NAMES = ("p", "q - 1", "gamma")

#: Rows per likelihood evaluation pass: a dozen work arrays of this length stay in the
#: CPU cache (about twice as fast as one pass over 800,000 customers).
_CHUNK_ROWS = 8192

#: From this many distinct rows on, the fit starts from the estimate on a subsample of a
#: quarter of them (at most ``_WARM_START_ROWS``), with Newton's method.
_WARM_START_FROM = 40_000
_WARM_START_ROWS = 50_000


def _objective(
    x: FloatArray, m: FloatArray, w: FloatArray
) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    """The weighted negative log-likelihood of eq. (1a) and its gradient, in pieces of
    ``_CHUNK_ROWS`` rows (one piece: summed as it always was)."""
    if x.size <= _CHUNK_ROWS:

        def whole(params: FloatArray) -> tuple[float, FloatArray]:
            ll, grad = _log_likelihood(params, x, m, gradient=True)
            return -float(np.dot(w, ll)), -(grad @ w)

        return whole
    pieces = [
        (x[i : i + _CHUNK_ROWS], m[i : i + _CHUNK_ROWS], w[i : i + _CHUNK_ROWS])
        for i in range(0, x.size, _CHUNK_ROWS)
    ]

    def chunked(params: FloatArray) -> tuple[float, FloatArray]:
        total = 0.0
        total_grad = np.zeros(3)
        for xc, mc, wc in pieces:
            ll, grad = _log_likelihood(params, xc, mc, gradient=True)
            # plain ufunc reductions: a BLAS call per piece costs thread start-ups
            total -= float(np.sum(wc * ll))
            total_grad -= np.sum(grad * wc, axis=1)
        return total, total_grad

    return chunked


def _weighted_correlation(a: FloatArray, b: FloatArray, w: FloatArray) -> float:
    """Pearson correlation of ``a`` and ``b`` with frequency weights ``w`` (NaN if undefined)."""
    total = w.sum()
    if total <= 0:
        return float("nan")
    da = a - np.dot(w, a) / total
    db = b - np.dot(w, b) / total
    den = np.sqrt(np.dot(w, da * da) * np.dot(w, db * db))
    if den == 0:
        return float("nan")
    return float(np.dot(w, da * db) / den)


class GammaGammaModel(BaseModel):
    """Gamma-gamma model of a customer's expected average spend per transaction.

    Parameters
    ----------
    penalizer : float, default 0.0
        Coefficient of the L2 penalty ``penalizer * sum(params**2)`` added to the mean
        negative log-likelihood (lifetimes' ``penalizer_coef``); 0 is plain maximum
        likelihood.

    Attributes
    ----------
    params_ : dict of str to float
        ``p`` (shape of each transaction's value), ``q`` and ``gamma`` (shape and rate of
        the customers' scale ``nu``). ``q > 1`` is enforced so that the population mean
        spend ``p gamma / (q - 1)`` exists.
    spend_frequency_correlation_ : float
        Pearson correlation between ``frequency`` and ``monetary_value`` among the fitted
        customers; the model assumes it is zero (FHL 2005 report 0.11 on CDNOW).
    n_customers_ : int
        Customers used in the fit: those with ``frequency > 0`` and ``monetary_value > 0``.

    Notes
    -----
    Input columns: ``frequency`` (repeat transactions) and ``monetary_value`` (their mean
    value), optional ``weights``. Rows with no repeat transaction or non-positive spend are
    left out of the fit (they carry no information about spend per transaction).

    Examples
    --------
    >>> from corecustomers.models import GammaGammaModel
    >>> model = GammaGammaModel()
    >>> model.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    >>> X = {"frequency": [2.0, 0.0], "monetary_value": [22.345, 0.0]}
    >>> [round(float(v), 2) for v in model.expected_spend(X)]
    [24.66, 35.22]
    """

    _param_names = ("p", "q", "gamma")

    spend_frequency_correlation_: float

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, X: Any, *, start: Mapping[str, float] | None = None) -> Self:
        """Maximum-likelihood fit of eq. (1a) with ``q > 1``.

        ``start`` (``p``, ``q``, ``gamma``: say a fit of the same customers at a
        neighbouring date) is where Newton's method starts, instead of an estimate on a
        subsample of the rows: the same optimum, to the optimiser's tolerance, for less
        work. The default starting points remain behind it.

        ``q`` is estimated as ``1 + exp(u)``, so the constraint holds by construction.
        When the optimum presses against ``q = 1`` (``q - 1 < 1e-6``) a
        :class:`~corecustomers.models.BoundaryWarning` says that these data do not identify
        the population mean spend (it would be infinite) and ``converged_`` is False.

        Warns
        -----
        SpendFrequencyCorrelationWarning
            When ``|corr(frequency, monetary_value)| > 0.3`` among the fitted customers.
        BoundaryWarning
            When ``q`` ends at its lower bound 1.
        """
        x, m, w = _spend_columns(X)
        keep = (x > 0) & (m > 0) & (w > 0)
        if not np.any(keep):
            raise ValueError(
                "the gamma-gamma model needs customers with at least one repeat purchase "
                "(frequency > 0) and positive monetary_value; none were found"
            )
        dropped = int(np.count_nonzero(~keep))
        if dropped:
            logger.debug("gamma-gamma: %d rows without repeat spend left out of the fit", dropped)
        corr = _weighted_correlation(x[keep], m[keep], w[keep])
        (x, m), w = compress_rows([x[keep], m[keep]], w[keep])
        mean_m = float(np.dot(w, m) / w.sum())
        starts = [[1.0, 2.0, mean_m], [5.0, 4.0, 0.6 * mean_m], [0.5, 1.5, 0.25 * mean_m]]
        hessian = None
        warm = x.size >= _WARM_START_FROM
        if start is not None:
            starts = [self._start_vector(start), *starts]
            warm = True
        elif warm:
            estimate, hessian = self._subsample_estimate(x, m, w, starts)
            starts = [estimate, *starts]
        result = fit_positive(
            _objective(x, m, w),
            starts,
            n_observations=float(w.sum()),
            penalizer=self.penalizer,
            lower=_LOWER,
            names=_OPTIMISER_NAMES,
            newton_first=warm,
            hessian=hessian,
        )
        q_at_bound = float(result.params[1]) - 1.0 < Q_BOUND or "q - 1" in result.at_lower_bound
        # q alone on the boundary is said below, in the model's own words
        q_alone = result.at_lower_bound == ("q - 1",) and not result.at_upper_bound
        for issue in result.warnings:
            if not (q_alone and issue.kind == "boundary"):
                issue.warn(stacklevel=2)
        if q_at_bound:
            FitWarning(
                BoundaryWarning,
                f"the gamma-gamma fit pressed q against its lower bound 1 (q = "
                f"{float(result.params[1]):.9g}): spend per transaction is so heavy-tailed "
                "across customers that the population mean spend p*gamma/(q-1) is not "
                "finite under this model, so the expected spend (and CLV) of customers with "
                "few purchases is not reliable. Check monetary_value for outliers or "
                "currency mix-ups, or model spend per segment.",
            ).warn(stacklevel=2)
        names = self._param_names
        self.params_ = dict(zip(names, map(float, result.params), strict=True))
        self.standard_errors_ = dict(zip(names, map(float, result.standard_errors), strict=True))
        self.covariance_ = result.covariance
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = round(result.n_observations)
        self.converged_ = result.converged and not q_at_bound
        self.spend_frequency_correlation_ = corr
        if np.isfinite(corr) and abs(corr) > CORRELATION_WARNING_THRESHOLD:
            FitWarning(
                SpendFrequencyCorrelationWarning,
                f"spend per transaction and frequency are correlated (Pearson r = {corr:.2f} "
                f"among {self.n_customers_} repeat customers); the gamma-gamma model assumes "
                "they are independent, so expected spend and CLV will be biased. Consider "
                "modelling segments separately.",
            ).warn(stacklevel=2)
        return self

    def _start_vector(self, start: Mapping[str, float]) -> list[float]:
        """``start`` as the optimiser's vector, checked (``q`` above its bound 1)."""
        return start_vector(start, self._param_names, model="the gamma-gamma model", lower=_LOWER)

    def _subsample_estimate(
        self, x: FloatArray, m: FloatArray, w: FloatArray, starts: list[list[float]]
    ) -> tuple[list[float], FloatArray | None]:
        """The estimate on a quarter of the rows (at most ``_WARM_START_ROWS`` customers)
        drawn by weight, with the Hessian of its mean objective (None when the fit gave
        none): where Newton's method on all rows starts.

        The draw uses a fixed seed, so fitting the same data twice gives the same answer.
        """
        rng = np.random.default_rng(0)
        pick = rng.choice(x.size, size=min(_WARM_START_ROWS, x.size // 4), p=w / w.sum())
        (xs, ms), ws = compress_rows([x[pick], m[pick]])
        result = fit_positive(  # only a starting point: its warnings are not issued
            _objective(xs, ms, ws),
            starts,
            n_observations=float(ws.sum()),
            penalizer=self.penalizer,
            lower=_LOWER,
            names=_OPTIMISER_NAMES,
        )
        hessian = result.hessian if result.hessian.size else None
        return [float(v) for v in result.params], hessian

    def to_dict(self) -> dict[str, Any]:
        """As :meth:`BaseModel.to_dict`, plus ``spend_frequency_correlation`` (or None)."""
        data = super().to_dict()
        corr = getattr(self, "spend_frequency_correlation_", float("nan"))
        data["spend_frequency_correlation"] = float(corr) if np.isfinite(corr) else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fitted model from :meth:`to_dict` output."""
        model = super().from_dict(data)
        corr = data.get("spend_frequency_correlation")
        model.spend_frequency_correlation_ = float("nan") if corr is None else float(corr)
        return model

    def _params(self) -> tuple[float, float, float]:
        self._check_fitted()
        pr = self.params_
        return pr["p"], pr["q"], pr["gamma"]

    def population_mean_spend(self) -> float:
        """Mean spend per transaction of a new customer, ``p gamma / (q - 1)``."""
        p, q, g = self._params()
        return p * g / (q - 1.0) if q > 1.0 else float("inf")

    def expected_spend(self, X: Any) -> FloatArray:
        """Conditional expected average spend per transaction, eq. (5) of the note.

        ``E[Z | p, q, gamma, m, x] = (q-1)/(px+q-1) * p gamma/(q-1) + px/(px+q-1) * m``:
        a weighted average of the population mean and the customer's observed mean. For
        ``frequency = 0`` it is the population mean ``p gamma / (q - 1)`` whatever the
        ``monetary_value`` column holds.
        """
        p, q, g = self._params()
        x, m, _ = _spend_columns(X)
        if q <= 1.0:
            raise ValueError(f"q = {q:.4g} <= 1: the population mean spend does not exist")
        px = p * x
        weight = px / (px + q - 1.0)
        return np.asarray((1.0 - weight) * (p * g / (q - 1.0)) + weight * np.where(x > 0, m, 0.0))

    def log_likelihood(self, X: Any) -> FloatArray:
        """Per-row log-likelihood, eq. (1a) (rows with ``frequency = 0`` give NaN)."""
        x, m, _ = _spend_columns(X)
        ok = (x > 0) & (m > 0)
        ll = np.full(x.size, np.nan)
        ll[ok], _ = _log_likelihood(np.array(self._params()), x[ok], m[ok], gradient=False)
        return ll

    def sample(
        self,
        frequency: Any,
        *,
        seed: int | np.random.Generator | None = None,
    ) -> dict[str, FloatArray]:
        """Simulate the mean spend of customers with the given numbers of transactions.

        Each customer draws ``nu ~ Gamma(q, rate=gamma)`` and ``x`` transaction values
        ``z ~ Gamma(p, rate=nu)``; their mean is ``Gamma(px, rate=x nu) `` distributed.

        Returns
        -------
        dict
            ``frequency``, ``monetary_value`` (NaN-free: 0 where ``frequency = 0``) and the
            latent ``nu``.
        """
        p, q, g = self._params()
        x = np.asarray(frequency, dtype=np.float64).ravel()
        if np.any(x < 0) or np.any(x != np.round(x)):
            raise ValueError("frequency must be whole and non-negative")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        nu = rng.gamma(q, 1.0 / g, size=x.size)
        pos = x > 0
        mean = np.zeros(x.size)
        mean[pos] = rng.gamma(p * x[pos], 1.0 / (x[pos] * nu[pos]))
        return {"frequency": x, "monetary_value": mean, "nu": nu}

    @classmethod
    def _contract_example(cls) -> dict[str, FloatArray]:
        """A small table this model can fit (for the common contract tests)."""
        truth = cls()
        truth.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
        frequency = np.tile(np.arange(1.0, 9.0), 40)
        return truth.sample(frequency, seed=0)
